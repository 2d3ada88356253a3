"""Path policy: absolute, confined to allowed roots, no system or secret files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path, PurePosixPath

from utils.gate.errors import FileMissingError, GateError, PathRefusedError

__all__ = ["FileMissingError", "PathPolicy", "PathRefusedError", "SYSTEM_DIRS", "is_secret_path", "system_dir_of"]

# Refused even inside an allowed root unless that root itself lies within them (a project kept
# under /usr/local/src stays usable; a root of "/" does not open /etc).
SYSTEM_DIRS: tuple[PurePosixPath, ...] = tuple(
    PurePosixPath(p)
    for p in (
        "/etc", "/proc", "/sys", "/dev", "/boot", "/bin", "/sbin", "/usr", "/lib", "/lib32",
        "/lib64", "/libx32", "/var/run", "/var/lib", "/run",
        "/private/etc", "/private/var/run", "/System",  # macOS spellings after resolving
    )
)

_SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".azure"})
_SECRET_PAIRS = frozenset({(".config", "gcloud"), (".kube", "config"), (".docker", "config.json")})
_SECRET_NAMES = frozenset({
    ".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials", "credentials.json", ".envrc",
    "kubeconfig", "deploy_key",
})
_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".keystore", ".jks", ".env", ".kubeconfig", "_key")
_ENV_TEMPLATES = frozenset({".env.example", ".env.sample", ".env.template"})
# env.<ext> holds settings when <ext> is a data or shell format; env.py, env.ts, env.rs ... are code.
_ENV_DATA_EXTENSIONS = frozenset({
    "env", "sh", "bash", "zsh", "fish", "txt", "json", "yaml", "yml", "ini", "conf", "cfg", "toml", "properties",
    "list", "local", "prod", "production", "dev", "development", "staging", "test",
})
# SSH keys and kube configs, also as copies (id_rsa.bak, id_ed25519.old, kubeconfig-prod.yaml); the .pub
# halves of keys are public, and source files named after them (kubeconfig.go, id_rsa_test.py) are code.
_KEY_FILE_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_xmss", "kubeconfig")
_CODE_EXTENSIONS = frozenset({
    "pub", "py", "pyi", "go", "rs", "ts", "tsx", "js", "jsx", "mjs", "java", "kt", "c", "h", "cc", "cpp", "hpp",
    "rb", "php", "cs", "swift", "scala", "md", "rst",
})


def is_secret_path(path: PurePosixPath | Path) -> bool:
    """True for files and directories that typically hold credentials."""
    parts = [part.lower() for part in path.parts]
    if any(part in _SECRET_DIRS for part in parts):
        return True
    if any(pair in _SECRET_PAIRS for pair in zip(parts, parts[1:])):
        return True
    name = parts[-1] if parts else ""
    if name in _SECRET_NAMES or name.endswith(_SECRET_SUFFIXES):
        return True
    if name.startswith("service-account") and name.endswith(".json"):
        return True
    if name.startswith(_KEY_FILE_PREFIXES) and ("." not in name or name.rpartition(".")[2] not in _CODE_EXTENSIONS):
        return True
    # An AWS-style shared credentials file wherever it lies (its name has no extension); a source package
    # of that name is a directory and stays readable.
    if name == "credentials" and not os.path.isdir(path):
        return True
    stem, dot, extension = name.partition(".")
    if stem == "env" and dot and extension in _ENV_DATA_EXTENSIONS:
        return True
    return (name == ".env" or name.startswith((".env.", ".env-", ".env_"))) and name not in _ENV_TEMPLATES


def system_dir_of(path: Path) -> PurePosixPath | None:
    """The system directory containing path, if any."""
    pure = PurePosixPath(path)
    return next((d for d in SYSTEM_DIRS if pure == d or pure.is_relative_to(d)), None)


@dataclass(frozen=True)
class PathPolicy:
    """Which paths a request may read: absolute, inside allowed_roots, no system or secret files.

    `working_dir` is the call's checked working directory (already inside the roots); `roots_note` is
    added to refusals to say where the roots came from and how to widen them.
    """

    allowed_roots: tuple[Path, ...]
    allow_secret_files: bool = False
    working_dir: Path | None = None
    roots_note: str = ""

    @cached_property
    def _roots(self) -> tuple[Path, ...]:
        return tuple(Path(root).expanduser().resolve() for root in self.allowed_roots)

    @property
    def roots(self) -> tuple[Path, ...]:
        """The allowed roots, resolved."""
        return self._roots

    def with_roots(self, *roots: Path) -> PathPolicy:
        """This policy with extra allowed roots (configuration only: a tool call never adds a root)."""
        return replace(self, allowed_roots=self.allowed_roots + tuple(roots))

    def narrowed_to(self, working_dir: Path) -> PathPolicy:
        """This policy confined to `working_dir`, which must already have passed `check`."""
        return replace(self, allowed_roots=(working_dir,), working_dir=working_dir)

    def check_all(self, raws: Sequence[str], field: str) -> list[Path]:
        """Check every path, naming `field` in a refusal."""
        try:
            return [self.check(raw) for raw in raws]
        except GateError as exc:
            raise exc.about(field) from exc

    def check_directory(self, raw: str, field: str) -> Path:
        """A checked path that must be a directory, naming `field` in a refusal."""
        path = self.check_all([raw], field)[0]
        if not path.is_dir():
            raise PathRefusedError(f"{field}: '{raw}' is not a directory; pass the directory's absolute path.")
        return path

    def inside(self, resolved: Path) -> bool:
        """Whether a resolved path lies in one of the roots."""
        return any(resolved == root or resolved.is_relative_to(root) for root in self._roots)

    def refuses_secret(self, *paths: Path | PurePosixPath) -> bool:
        """True when secret-bearing files are refused and one of these names is one."""
        return not self.allow_secret_files and any(is_secret_path(p) for p in paths)

    def confine(self, raw: str, real: Path) -> None:
        """Re-check where an opened file really is (its descriptor's path): roots, system dirs, secrets."""
        self._refuse_system(raw, real)
        self._refuse_outside_roots(raw, real)
        if self.refuses_secret(real):
            raise PathRefusedError(
                f"Refusing {raw!r}: it is really '{real}', a file that holds secrets. Leave it out, or set "
                "QUORUM_ALLOW_SECRET_FILES=true if you really mean to share it."
            )

    def check(self, raw: str) -> Path:
        """Return the resolved path if the policy allows it; raise PathRefusedError or FileMissingError."""
        if not raw or not raw.strip() or "\x00" in raw:
            raise PathRefusedError(
                f"Path is empty or malformed: {raw!r}. Pass an absolute file or directory path."
            )
        expanded = Path(raw).expanduser()
        if not expanded.is_absolute():
            example = raw[2:] if raw.startswith("./") else raw
            raise PathRefusedError(
                f"Path must be absolute: {raw!r}. Pass the full path, "
                f"e.g. '/home/me/project/{example}'."
            )
        # Resolve symlinks and '..' first so every check below sees where the read would land.
        try:
            resolved = expanded.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # a symlink loop raises RuntimeError on Python 3.11
            raise PathRefusedError(
                f"Cannot resolve {raw!r} ({exc}). Pass a path that resolves (no symlink loop)."
            ) from exc
        self._refuse_system(raw, resolved)
        self._refuse_outside_roots(raw, resolved)
        # The name as given matters too: a '.env' symlink to a harmless file is still refused.
        if self.refuses_secret(resolved, expanded):
            raise PathRefusedError(
                f"Refusing {raw!r}: it looks like a file that holds secrets (keys, tokens, "
                "credentials), which must not be sent to a model. Leave it out, or set "
                "QUORUM_ALLOW_SECRET_FILES=true if you really mean to share it."
            )
        try:
            exists = resolved.exists()
        except OSError as exc:  # e.g. a file name longer than the file system allows
            raise PathRefusedError(f"Cannot use {raw!r}: {exc.strerror or exc}. Pass a valid path.") from exc
        if not exists:
            raise FileMissingError(
                f"No such file or directory: {raw!r}"
                + (f" (resolves to '{resolved}')" if str(resolved) != raw else "")
                + ". Check the spelling, or list the directory to find the right path."
            )
        return resolved

    def _refuse_system(self, raw: str, resolved: Path) -> None:
        system = system_dir_of(resolved)
        if system is None:
            return
        if any(root.is_relative_to(system) and resolved.is_relative_to(root) for root in self._roots):
            return
        raise PathRefusedError(
            f"Refusing {raw!r}: it lies in the system directory '{system}'"
            + (f" (resolves to '{resolved}')" if str(resolved) != raw else "")
            + ". Pass files from your project instead."
        )

    def _refuse_outside_roots(self, raw: str, resolved: Path) -> None:
        note = f" {self.roots_note}" if self.roots_note else ""
        if not self._roots:
            raise PathRefusedError(
                f"Refusing {raw!r}: no directories are allowed for reading.{note} Set QUORUM_ALLOWED_ROOTS "
                "to a comma-separated list of project directories, or start the server from the project "
                "directory (or use a client that shares its roots)."
            )
        if self.inside(resolved):
            return
        allowed = ", ".join(f"'{root}'" for root in self._roots)
        where = "the working directory" if self.working_dir is not None else "the allowed directories"
        raise PathRefusedError(
            f"Refusing {raw!r}: "
            + (f"it resolves to '{resolved}', which is " if str(resolved) != raw else "it is ")
            + f"outside {where} ({allowed}).{note} Pass a path inside them, or add its directory to "
            "QUORUM_ALLOWED_ROOTS (a tool call cannot widen the roots)."
        )
