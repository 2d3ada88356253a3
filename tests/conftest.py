"""Shared fixtures: isolated settings per test, an in-memory server with fake models, an MCP client."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.client import Reply, ToolClient
from tests.fakes.fake_model import FakeModelProvider, spec
from utils.config.settings import Settings
from utils.conversations.storage.memory import MemoryThreadStore

# The fake provider server fixtures (`fake_server`, `fake_provider_session`), registered once for every test module.
pytest_plugins = ["tests.fakes.fixtures"]


# Opt-in tiers against real things that a fresh machine does not have: a built local model server
# (./run-tests.sh --real-model) and another server's real configuration files (-m real_config).
OPT_IN_MARKERS = ("real_model", "real_config")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """An opt-in tier runs only when asked for by its marker: a normal run neither builds nor reads them."""
    asked = config.getoption("markexpr") or ""
    held = [m for m in OPT_IN_MARKERS if m not in asked]
    kept = [item for item in items if not any(item.get_closest_marker(m) for m in held)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings from an explicit environment only: never the developer's real keys or home."""

    def build(**env: Any) -> Settings:
        base = {"QUORUM_HOME": str(tmp_path / "home"), "QUORUM_STORAGE": "memory"}
        base.update({k: str(v) for k, v in env.items()})
        return Settings.from_env(base)

    return build


@pytest.fixture
def catalogue(tmp_path: Path) -> Callable[[str, list[dict[str, Any]]], str]:
    """Write a catalogue file and return its path (for <PROVIDER>_MODELS_CONFIG_PATH)."""

    def write(name: str, models: list[dict[str, Any]]) -> str:
        path = tmp_path / f"{name}_catalogue.json"
        path.write_text(json.dumps({"models": models}))
        return str(path)

    return write


class Harness(ToolClient):
    """An in-process Quorum with fake providers; each call connects a fresh in-memory MCP client."""

    def __init__(self, services: Any, server: Any, fakes: dict[str, FakeModelProvider], workdir: Path) -> None:
        super().__init__(client=None, services=services)
        self.server = server
        self.fakes = fakes
        self.workdir = workdir

    def connect(self) -> Any:
        """A real MCP client session, connected in memory (use as `async with h.connect() as client`)."""
        from mcp import Client

        return Client(self.server)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[ToolClient]:
        """One connection for several calls (e.g. concurrent ones on the same session)."""
        async with self.connect() as client:
            yield ToolClient(client, self.services)

    async def call(self, tool: str, /, progress_callback: Any = None, **arguments: Any) -> Reply:
        async with self.session() as client:
            return await client.call(tool, progress_callback=progress_callback, **arguments)


@pytest.fixture
def harness_factory(tmp_path: Path, make_settings: Callable[..., Settings], catalogue: Callable[..., str]):
    """Build a Harness: two fake vendors (custom with 'alpha', openai with 'beta') unless told otherwise."""
    from server import build_services, create_server

    async def build(env: dict[str, Any] | None = None, store: Any = None) -> Harness:
        workdir = tmp_path / "project"
        workdir.mkdir(exist_ok=True)
        custom = catalogue("custom", [{"model_name": "alpha", "aliases": ["a"], "context_window": 64_000, "max_output_tokens": 4_000, "intelligence_score": 8, "fast": True}])
        openai = catalogue("openai", [{"model_name": "beta", "aliases": ["b"], "context_window": 200_000, "max_output_tokens": 8_000, "intelligence_score": 15, "supports_thinking": True, "thinking_style": "effort"}])
        base_env = {
            "CUSTOM_API_URL": "http://127.0.0.1:9/v1",
            "CUSTOM_MODELS_CONFIG_PATH": custom,
            "OPENAI_API_KEY": "test-key-123",
            "OPENAI_MODELS_CONFIG_PATH": openai,
        }
        base_env.update(env or {})
        settings = make_settings(**base_env)
        fakes = {
            "custom": FakeModelProvider("custom", [spec("alpha")]),
            "openai": FakeModelProvider("openai", [spec("beta", "openai")]),
        }
        services = build_services(
            settings,
            cwd=workdir,
            providers=dict(fakes),
            store=store or MemoryThreadStore(timedelta(hours=settings.conversation_timeout_hours)),
        )
        return Harness(services, create_server(services), fakes, workdir)

    return build


@pytest.fixture
async def harness(harness_factory) -> AsyncIterator[Harness]:
    yield await harness_factory()
