"""Shared fixtures: isolated settings per test, an in-memory server with fake models, an MCP client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fake_model import FakeModelProvider, spec
from utils.settings import Settings
from utils.storage.memory import MemoryThreadStore

# The fake provider server fixtures (`fake_server`, `fake_provider_session`), registered once for every test module.
pytest_plugins = ["tests.fakes.fixtures"]


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


class Harness:
    """An in-process Quorum with fake providers and an MCP client connected to it."""

    def __init__(self, services: Any, server: Any, fakes: dict[str, FakeModelProvider], workdir: Path) -> None:
        self.services = services
        self.server = server
        self.fakes = fakes
        self.workdir = workdir

    def connect(self) -> Any:
        """A real MCP client session, connected in memory (use as `async with h.connect() as client`)."""
        from mcp import Client

        return Client(self.server)

    async def call(self, tool: str, client: Any = None, **arguments: Any) -> tuple[dict[str, Any], bool]:
        if client is None:
            async with self.connect() as fresh:
                result = await fresh.call_tool(tool, arguments)
        else:
            result = await client.call_tool(tool, arguments)
        return json.loads(result.content[0].text), bool(result.is_error)

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        body, is_error = await self.call(tool, **arguments)
        assert not is_error, body
        return body

    async def fail(self, tool: str, **arguments: Any) -> dict[str, Any]:
        body, is_error = await self.call(tool, **arguments)
        assert is_error, body
        assert body["status"] == "error"
        return body


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
            store=store or MemoryThreadStore(__import__("datetime").timedelta(hours=settings.conversation_timeout_hours)),
        )
        return Harness(services, create_server(services), fakes, workdir)

    return build


@pytest.fixture
async def harness(harness_factory) -> AsyncIterator[Harness]:
    yield await harness_factory()
