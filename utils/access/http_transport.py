"""Streamable HTTP transport with bearer-token authentication (for several hosts behind one server)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from utils.access.principals import LOCAL, Principal, TokenFileError, TokenVerifier, http_principal

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BearerAuth:
    """Refuse every HTTP request whose bearer token names no principal; tag the others with theirs.

    The principal rides in the ASGI scope as the SDK's `AuthenticatedUser`, so the SDK also binds each
    MCP session to the principal that opened it (another principal's session id reads as unknown).
    """

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = given.partition(" ")
            access = await self.verifier.verify_token(token.strip()) if scheme.lower() == "bearer" and token else None
            if access is None:
                body = (
                    b'{"error":"unauthorized","message":"Send Authorization: Bearer <token>, with QUORUM_HTTP_TOKEN '
                    b'or a token listed (hashed) in QUORUM_HTTP_TOKENS_FILE."}'
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

            scope = {**scope, "user": AuthenticatedUser(access)}
        await self.app(scope, receive, send)


def caller(request: Any, *, share_local: bool) -> Principal:
    """The principal of one HTTP request (stdio and in-memory calls carry no request: the local user)."""
    if request is None:
        return LOCAL
    user = getattr(request, "scope", {}).get("user")
    access = getattr(user, "access_token", None)
    name = getattr(access, "client_id", None)
    # Unreachable behind BearerAuth; a request without a principal still never sees anyone's threads.
    return http_principal(name or "anonymous", share_local=share_local and bool(name))


def build_http_app(server: Any, verifier: TokenVerifier, host: str) -> ASGIApp:
    if not verifier.names:
        raise SystemExit(
            "Neither QUORUM_HTTP_TOKEN nor QUORUM_HTTP_TOKENS_FILE is set: the HTTP transport needs bearer tokens. "
            "Set QUORUM_HTTP_TOKEN to a long random string (one user), or list one hashed token per user in "
            "QUORUM_HTTP_TOKENS_FILE (see README, 'Several users over HTTP')."
        )
    return BearerAuth(server.streamable_http_app(host=host), verifier)


async def serve_http(services: Any, server: Any) -> None:
    import uvicorn

    settings = services.settings
    try:
        verifier = TokenVerifier.from_settings(settings.http_token, settings.http_tokens_file)
    except TokenFileError as exc:
        raise SystemExit(str(exc)) from exc
    app = build_http_app(server, verifier, settings.http_host)
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="on")
    logger.info(
        "Quorum listening on http://%s:%d/mcp for %d principal(s)", settings.http_host, settings.http_port, len(verifier.names)
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await services.aclose()
