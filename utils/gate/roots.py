"""Which directories a call may read: decided by the user's configuration and client, never by the call.

Allowed roots are the client's MCP roots (when it declares the roots capability), the server's working
directory and QUORUM_ALLOWED_ROOTS; a remote (HTTP) client's roots can only narrow the other two. `/` and the home directory itself are never taken from the client
or the working directory — a server started from `~` would otherwise open every dotfile — only from
QUORUM_ALLOWED_ROOTS, which the user writes on purpose. A call's working_directory_absolute_path can
only narrow the roots to a directory inside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from utils.gate.security import PathPolicy


@dataclass(frozen=True)
class Roots:
    """The allowed roots of one call, and what was left out of them (reported by `version` and refusals)."""

    allowed: tuple[Path, ...]
    client_declared: bool = False
    ignored: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """A sentence for refusals and `version`: where the roots come from, and what was not used."""
        source = "the client's roots, " if self.client_declared else ""
        text = f"Roots come from {source}the server's working directory and QUORUM_ALLOWED_ROOTS."
        if self.ignored:
            text += " Not used as roots: " + "; ".join(self.ignored) + "."
        return text

    def policy(self, *, allow_secret_files: bool) -> PathPolicy:
        return PathPolicy(allowed_roots=self.allowed, allow_secret_files=allow_secret_files, roots_note=self.note)


def _too_broad(path: Path, home: Path) -> str | None:
    if path == Path(path.anchor):
        return "the file system root"
    if path == home:
        return "the home directory itself"
    return None


def decide_roots(
    *,
    server_cwd: Path,
    configured: Sequence[Path],
    client: Sequence[Path] | None,
    home: Path,
    client_widens: bool = True,
) -> Roots:
    """The allowed roots from the sources the user controls.

    The local (stdio) client is the user's own agent: its roots add to the server's. A remote (HTTP) client
    is one of several callers, so with `client_widens` false its roots can only narrow the server's.
    """
    home = _resolve(home)
    ignored: list[str] = []

    def usable(path: Path, label: str) -> Path | None:
        resolved = _resolve(path)
        broad = _too_broad(resolved, home)
        if broad is None:
            return resolved
        ignored.append(f"{label} '{resolved}' ({broad}; set QUORUM_ALLOWED_ROOTS or start the server in a project)")
        return None

    own = usable(server_cwd, "the server's working directory")
    server = [*([own] if own else []), *(_resolve(p) for p in configured)]
    declared = [r for p in (client or ()) if (r := usable(p, "a client root")) is not None]
    if client is None:
        allowed = server
    elif client_widens:
        allowed = [*declared, *server]
    else:
        allowed = [r for r in declared if any(r.is_relative_to(s) for s in server)]
        ignored += [f"a client root '{r}' (outside the server's roots: a remote client's roots can only narrow them)"
                    for r in declared if r not in allowed]
    return Roots(allowed=tuple(dict.fromkeys(allowed)), client_declared=client is not None, ignored=tuple(ignored))


def paths_from_uris(uris: Sequence[str]) -> tuple[Path, ...]:
    """Local directories from MCP root URIs; anything but an absolute file:// URI is ignored."""
    found: list[Path] = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            continue
        path = Path(unquote(parsed.path))
        if path.is_absolute():
            found.append(path)
    return tuple(found)


def narrow(policy: PathPolicy, raw: str) -> PathPolicy:
    """The policy confined to the call's working directory, which must lie inside an allowed root."""
    return policy.narrowed_to(policy.check_directory(raw, "working_directory_absolute_path"))


def _resolve(path: Path) -> Path:
    return Path(path).expanduser().resolve()
