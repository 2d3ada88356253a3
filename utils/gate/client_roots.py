"""Asking the MCP client for its roots: `roots/list` on a handshake connection, an input request otherwise.

A handshake-era client (protocol up to 2025-11-25) is asked over its back-channel once, and the answer
is kept on the connection until it sends `notifications/roots/list_changed`. A 2026-07-28 client has no
back-channel: the tool call is answered with an InputRequiredResult asking for the roots, and the
client retries the call with them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.shared.message import ServerMessageMetadata

from utils.gate.roots import paths_from_uris

logger = logging.getLogger(__name__)

INPUT_KEY = "quorum_roots"
ROOTS_TIMEOUT_S = 10.0
_CACHE_KEY = "quorum.client_roots"


def declares_roots(session: Any) -> bool:
    caps = session.client_capabilities
    return caps is not None and caps.roots is not None


def _connection_state(session: Any) -> dict[str, Any] | None:
    # The low-level request context exposes the per-request session, not the connection; the session keeps
    # it privately. Connection.state is the SDK's own per-connection scratch space, so the cache lives
    # there; if the attribute ever moves, the roots are simply asked for on every call.
    connection = getattr(session, "_connection", None)
    state = getattr(connection, "state", None)
    return state if isinstance(state, dict) else None


def forget(session: Any) -> None:
    """Drop the cached roots of this connection (the client said they changed)."""
    state = _connection_state(session)
    if state is not None:
        state.pop(_CACHE_KEY, None)


def _parse(answer: Any) -> tuple[Path, ...]:
    try:
        result = answer if isinstance(answer, types.ListRootsResult) else types.ListRootsResult.model_validate(answer)
    except Exception:  # an error answer or a malformed one: the client shared no roots
        logger.warning("the client's roots answer could not be read: %r", answer)
        return ()
    return paths_from_uris([str(root.uri) for root in result.roots])


async def client_roots(
    ctx: Any, params: types.CallToolRequestParams
) -> tuple[Path, ...] | None | types.InputRequiredResult:
    """The client's roots; None when it declares none; an InputRequiredResult when it must be asked in-band."""
    session = ctx.session
    if not declares_roots(session):
        return None
    answered = (params.input_responses or {}).get(INPUT_KEY)
    if answered is not None:
        return _parse(answered)
    state = _connection_state(session)
    if state is not None and _CACHE_KEY in state:
        cached: tuple[Path, ...] = state[_CACHE_KEY]
        return cached
    if not session.can_send_request:
        return types.InputRequiredResult(input_requests={INPUT_KEY: types.ListRootsRequest()})
    try:
        # Asked on this request's own channel (over HTTP: the POST's response stream, which is open now),
        # and bounded, so a client that never answers cannot hold the call.
        answer = await session.send_request(
            types.ListRootsRequest(), types.ListRootsResult, request_read_timeout_seconds=ROOTS_TIMEOUT_S,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
    except Exception:
        logger.warning("the client declares roots but roots/list failed; using no client roots", exc_info=True)
        return ()
    roots = _parse(answer)
    caps = session.client_capabilities
    if state is not None and caps.roots.list_changed:  # only a client that reports changes can be cached
        state[_CACHE_KEY] = roots
    return roots
