"""Quorum built in-process from an explicit environment only, with an MCP client connected in memory.

For tests that configure providers exactly as a user does (keys and base-URL variables), pointed at the
fake provider server; nothing of the developer's environment leaks in.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from tests.client import ToolClient
from utils.config.settings import Settings


def environment(home: Path, **env: str) -> dict[str, str]:
    """A minimal environment: private home, in-memory threads, quick retries, plus `env`."""
    home.mkdir(parents=True, exist_ok=True)
    return {"QUORUM_HOME": str(home), "QUORUM_STORAGE": "memory", "QUORUM_RETRY_BASE_DELAY_S": "0.01",
            "QUORUM_MAX_RETRIES": "1", **env}


@contextlib.asynccontextmanager
async def quorum(env: Mapping[str, str], cwd: Path) -> AsyncIterator[ToolClient]:
    """`server.build_services(Settings.from_env(env))` behind an in-memory `mcp.Client`; providers and store are
    closed afterwards."""
    from mcp import Client

    from server import build_services, create_server

    services = build_services(Settings.from_env(dict(env)), cwd=cwd)
    try:
        async with Client(create_server(services)) as client:
            yield ToolClient(client, services)
    finally:
        await services.registry.aclose()
        await services.store.close()

