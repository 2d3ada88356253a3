"""Streamable HTTP transport with bearer-token authentication (for several hosts behind one server)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BearerAuth:
    """Refuse every HTTP request whose Authorization header does not carry the configured token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error":"unauthorized","message":"Send Authorization: Bearer <QUORUM_HTTP_TOKEN>."}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def build_http_app(server: Any, token: str, host: str) -> ASGIApp:
    if not token:
        raise SystemExit(
            "QUORUM_HTTP_TOKEN is not set: the HTTP transport needs a bearer token. "
            "Set QUORUM_HTTP_TOKEN to a long random string and send it as 'Authorization: Bearer <token>'."
        )
    return BearerAuth(server.streamable_http_app(host=host), token)


async def serve_http(services: Any, server: Any) -> None:
    import uvicorn

    settings = services.settings
    app = build_http_app(server, settings.http_token, settings.http_host)
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="on")
    logger.info("Quorum listening on http://%s:%d/mcp", settings.http_host, settings.http_port)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await services.registry.aclose()
        await services.store.close()
