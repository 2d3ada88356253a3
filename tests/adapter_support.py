"""Checks both wire-adapter test modules run the same way against the fake provider server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from providers.base import GenerateRequest, Provider
from providers.catalogue import ModelSpec
from tests.fakes import FakeProviderServer

REPO = Path(__file__).resolve().parent.parent


def sent(fake: FakeProviderServer) -> dict[str, Any]:
    """The JSON body of the last request the fake server received."""
    return fake.last_request.body


def imports_any(module: str, *sdks: str) -> bool:
    """Whether importing `module` in a fresh interpreter loads any of `sdks`."""
    code = f"import sys, {module}; print(any(m in sys.modules for m in {sdks!r}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() in ("True", "False"), out.stderr
    return out.stdout.strip() == "True"


def unused_port() -> int:
    """A port that was free a moment ago: nothing listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def assert_concurrent_calls_overlap(
    provider: Provider, fake: FakeProviderServer, request: Any, spec: ModelSpec,
) -> None:
    """Ten slow calls at once are all in flight at the server together, and each gets its own answer.

    `request(text)` builds the GenerateRequest for one question.
    """
    fake.configure(delay=0.3)
    asked: list[GenerateRequest] = [request(f"question {i}") for i in range(10)]
    results = await asyncio.gather(*(provider.generate(r, spec) for r in asked))

    log = fake.wait_for_requests(10, finished=True)
    assert sorted(r.text.rsplit(": ", 1)[1] for r in results) == sorted(f"question {i}" for i in range(10))
    assert max(r.arrived for r in log) < min(r.finished for r in log)
