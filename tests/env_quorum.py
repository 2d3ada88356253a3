"""Quorum built in-process from an explicit environment only, with an MCP client connected in memory.

For tests that configure providers exactly as a user does (keys and base-URL variables), pointed at the
fake provider server; nothing of the developer's environment leaks in.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tests.replies import Reply as Result
from utils.settings import Settings

S = TypeVar("S")


class Quorum:
    """A connected client plus the services behind it."""

    def __init__(self, client: Any, services: Any) -> None:
        self.client = client
        self.services = services

    async def call(self, tool: str, progress_callback: Any = None, **arguments: Any) -> Result:
        raw = await self.client.call_tool(tool, arguments, progress_callback=progress_callback)
        return Result.of(raw)

    async def ok(self, tool: str, **arguments: Any) -> Result:
        result = await self.call(tool, **arguments)
        assert not result.is_error, result.envelope
        return result

    async def fail(self, tool: str, **arguments: Any) -> Result:
        result = await self.call(tool, **arguments)
        assert result.is_error and result.envelope["status"] == "error", result.envelope
        return result

    async def thread(self, thread_id: str) -> dict[str, Any]:
        """The thread as `threads export` returns it."""
        result = await self.ok("threads", action="export", continuation_id=thread_id)
        exported: dict[str, Any] = json.loads(result.content)
        return exported


def environment(home: Path, **env: str) -> dict[str, str]:
    """A minimal environment: private home, in-memory threads, quick retries, plus `env`."""
    home.mkdir(parents=True, exist_ok=True)
    return {"QUORUM_HOME": str(home), "QUORUM_STORAGE": "memory", "QUORUM_RETRY_BASE_DELAY_S": "0.01",
            "QUORUM_MAX_RETRIES": "1", **env}


@contextlib.asynccontextmanager
async def connect(env: Mapping[str, str], cwd: Path, wrap: Callable[[Any, Any], S]) -> AsyncIterator[S]:
    """`server.build_services(Settings.from_env(env))` behind an in-memory `mcp.Client`, yielded as
    `wrap(client, services)`; providers and store are closed afterwards. Shared with tests.wire_support."""
    from mcp import Client

    from server import build_services, create_server

    services = build_services(Settings.from_env(dict(env)), cwd=cwd)
    try:
        async with Client(create_server(services)) as client:
            yield wrap(client, services)
    finally:
        await services.registry.aclose()
        await services.store.close()


def quorum(env: Mapping[str, str], cwd: Path) -> contextlib.AbstractAsyncContextManager[Quorum]:
    """Quorum built from `env` only, connected in memory."""
    return connect(env, cwd, Quorum)
