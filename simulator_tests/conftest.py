"""Fixtures for end-to-end scenarios: a fake provider process, and Quorum spawned over stdio.

Every test gets its own QUORUM_HOME and project directory under tmp_path; one fake provider
process serves the whole run and is reset before each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.spawn import FakeProcess, fake_provider_process, quorum_env, stdio_params
from tests.client import ToolClient

# A stuck server must fail the test, not hang the suite.
CALL_TIMEOUT_S = 60.0

TWO_MODELS = {
    "models": [
        {"model_name": "gpt-fake", "context_window": 128_000, "max_output_tokens": 8_000, "intelligence_score": 10},
        {"model_name": "o-fake", "context_window": 200_000, "max_output_tokens": 16_000, "intelligence_score": 12,
         "supports_thinking": True, "thinking_style": "effort"},
    ]
}


@dataclass
class Lab:
    """One test's world: the fake provider, an isolated home and project dir, and server launchers."""

    fake: FakeProcess
    home: Path
    project: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Quorum's environment: only the custom endpoint (the fake), plus `extra`."""
        return quorum_env(self.home, self.fake.url, **extra)

    def two_models(self) -> dict[str, str]:
        """Env entries that put gpt-fake and o-fake on the custom endpoint."""
        path = self.home.parent / "custom_models.json"
        path.write_text(json.dumps(TWO_MODELS))
        return {"CUSTOM_MODELS_CONFIG_PATH": str(path), "CUSTOM_MODEL_NAME": ""}

    @contextlib.asynccontextmanager
    async def session(self, env: dict[str, str] | None = None) -> AsyncIterator[ToolClient]:
        """Spawn `python server.py` over stdio (cwd = the project dir) and connect a client."""
        from mcp import Client

        params = stdio_params(self.env() if env is None else env, cwd=self.project)
        async with Client(params, read_timeout_seconds=CALL_TIMEOUT_S) as client:
            yield ToolClient(client)

    def generations(self) -> list[dict[str, Any]]:
        """Model calls the fake received (model listings and control calls excluded)."""
        return [r for r in self.fake.control.requests() if r["kind"] == "openai.chat"]

    async def wait_for_generations(
        self, count: int, *, finished: bool = False, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Poll the fake until `count` model calls arrived (or finished); fail after `timeout`."""
        seen: list[dict[str, Any]] = []

        def ready() -> bool:
            nonlocal seen
            seen = self.generations()
            done = [r for r in seen if r["finished"] is not None] if finished else seen
            return len(done) >= count

        await wait_until(ready, timeout, f"the fake provider to see {count} model call(s)")
        return seen


async def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Bounded polling: return once `condition()` holds, fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def user_text(request: dict[str, Any]) -> str:
    """Everything the fake was sent as user content in one chat-completions request."""
    parts = []
    for message in request["body"]["messages"]:
        if message["role"] == "user":
            content = message["content"]
            parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(parts)


def server_pids(home: Path) -> list[int]:
    """Live Python processes running `server.py` with QUORUM_HOME=`home`."""
    from simulator_tests.agent_clis import live_processes

    marker = f"QUORUM_HOME={home}".encode()
    # A client (e.g. the Inspector's node process) may carry the same argument and environment.
    return [pid for pid, argv, environ in live_processes()
            if os.path.basename(argv[0]).startswith(b"python") and argv[1:2] != [] and argv[1].endswith(b"server.py")
            and marker in environ]


async def kill_server(home: Path) -> int:
    """SIGKILL the one live server using `home`; return its pid once it is gone."""
    pids = server_pids(home)
    assert len(pids) == 1, f"expected one server for {home}, found {pids}"
    os.kill(pids[0], signal.SIGKILL)
    await wait_until(lambda: pids[0] not in server_pids(home), 10.0, f"server {pids[0]} to die")
    return pids[0]


@pytest.fixture(scope="session")
def fake_process() -> Iterator[FakeProcess]:
    """One fake provider process for the whole run (tests run one at a time and reset it)."""
    with fake_provider_process() as fake:
        yield fake


@pytest.fixture
def lab(fake_process: FakeProcess, tmp_path: Path) -> Iterator[Lab]:
    """A reset fake provider, and an isolated QUORUM_HOME and project dir for this test."""
    fake_process.control.reset()
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    yield Lab(fake=fake_process, home=home, project=project)
    # A server this test spawned must not outlive it (the MCP client normally reaps it on exit).
    for pid in server_pids(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
