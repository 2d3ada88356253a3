"""Who is calling: the local user on stdio, or one of the principals the HTTP tokens name."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.conversations.turns import LOCAL_OWNER

SINGLE_TOKEN_PRINCIPAL = "http"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Principal:
    """A caller: the owner name its new threads get, and the owners whose threads it may see."""

    name: str
    sees: tuple[str, ...]


LOCAL = Principal(LOCAL_OWNER, (LOCAL_OWNER,))


def http_principal(name: str, *, share_local: bool) -> Principal:
    """An HTTP caller sees its own threads, and the local user's only when the server shares them."""
    return Principal(name, (name, LOCAL_OWNER) if share_local else (name,))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message names the line and the fix."""


def parse_tokens(text: str, source: str) -> dict[str, str]:
    """`name:sha256hex` lines (blank lines and `#` comments allowed) as {digest: name}."""
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, digest = line.rpartition(":")
        name, digest = name.strip(), digest.strip().lower()
        where = f"{source} line {number}"
        if not sep or not _NAME.fullmatch(name) or not _DIGEST.fullmatch(digest):
            raise TokenFileError(
                f"{where} is not 'name:sha256hex' (a name of letters, digits, '.', '_', '@' or '-', then the 64-hex "
                "SHA-256 of the token). Produce a line with: "
                "t=$(openssl rand -hex 32); echo \"alice:$(printf %s \"$t\" | sha256sum | cut -d' ' -f1)\""
            )
        if name == LOCAL_OWNER:
            raise TokenFileError(f"{where}: '{LOCAL_OWNER}' is the stdio user's name; give this principal another name.")
        if digest in found:
            raise TokenFileError(f"{where}: the same token is already given to '{found[digest]}'; give each principal its own.")
        found[digest] = name
    return found


class TokenVerifier:
    """Maps a bearer token to its principal; the shape of the MCP SDK's `TokenVerifier` protocol."""

    def __init__(self, principals: dict[str, str]) -> None:
        self._by_digest = tuple(principals.items())

    @classmethod
    def from_settings(cls, single_token: str, tokens_file: Path | None) -> TokenVerifier:
        principals: dict[str, str] = {}
        if tokens_file is not None:
            try:
                text = tokens_file.expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                raise TokenFileError(f"QUORUM_HTTP_TOKENS_FILE {tokens_file} cannot be read ({exc.strerror}).") from exc
            principals.update(parse_tokens(text, str(tokens_file)))
        if single_token:
            principals.setdefault(token_digest(single_token), SINGLE_TOKEN_PRINCIPAL)
        return cls(principals)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self._by_digest)

    def principal_name(self, token: str) -> str | None:
        """The principal a token belongs to: every entry is compared, in constant time, whatever matches."""
        given = token_digest(token)
        match: str | None = None
        for digest, name in self._by_digest:
            if hmac.compare_digest(given, digest):
                match = name
        return match

    async def verify_token(self, token: str) -> Any:
        """The SDK's hook: an AccessToken whose client_id is the principal, or None."""
        from mcp.server.auth.provider import AccessToken

        name = self.principal_name(token)
        return None if name is None else AccessToken(token=token_digest(token), client_id=name, scopes=[])

