"""Checks both wire-adapter test modules run the same way against the fake provider server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from providers.base import GenerateRequest, ImageInput, Provider
from providers.catalogue import ModelSpec
from providers.errors import (
    AuthError, BadRequestError, OutputLimitError, ProviderError, ProviderTimeoutError, RetryableError,
)
from tests.fakes import FakeProviderServer, ReplySpec

# (root URL of a server, e.g. http://127.0.0.1:PORT; timeout in seconds) -> a provider with the test key.
Build = Callable[[str, float], Any]

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


async def assert_output_cap_ran_out(provider: Provider, fake: FakeProviderServer, finish_reason: str,
                                    request: GenerateRequest, spec: ModelSpec) -> None:
    """An empty answer that ended on the output cap (`finish_reason` in the wire's words) says to raise it,
    and is not retried."""
    fake.script(ReplySpec(empty=True, finish_reason=finish_reason))
    with pytest.raises(OutputLimitError, match="raise max output tokens") as caught:
        await provider.generate(request, spec)
    assert caught.value.retryable is False


async def assert_refused_key_is_not_echoed(provider: Provider, fake: FakeProviderServer, status: int, key: str,
                                           request: GenerateRequest, spec: ModelSpec) -> None:
    fake.script(ReplySpec(status=status))
    with pytest.raises(AuthError) as caught:
        await provider.generate(request, spec)
    assert key not in caught.value.describe() and key not in str(caught.value)


async def assert_hang_times_out(build: Build, fake: FakeProviderServer, request: GenerateRequest,
                                spec: ModelSpec) -> None:
    """A reply that never comes ends at the adapter's timeout as a ProviderTimeoutError that says so."""
    fake.script(ReplySpec(hang=True))
    quick: Provider = build(fake.url, 0.3)
    try:
        with pytest.raises(ProviderTimeoutError, match="did not answer within 0.3s"):
            await quick.generate(request, spec)
    finally:
        await quick.aclose()


async def assert_unreachable_is_retryable(build: Build, request: GenerateRequest, spec: ModelSpec) -> None:
    """Nothing listening at the base URL is a retryable connection failure (not a timeout or a bug)."""
    unreachable: Provider = build(f"http://127.0.0.1:{unused_port()}", 5.0)
    try:
        with pytest.raises(RetryableError, match="lost the connection") as caught:
            await unreachable.generate(request, spec)
    finally:
        await unreachable.aclose()
    assert type(caught.value) is RetryableError


async def assert_fault_translated(provider: Provider, fake: FakeProviderServer, reply: ReplySpec,
                                  error: type[ProviderError], status: int | None, names: tuple[str, str],
                                  request: GenerateRequest, spec: ModelSpec) -> None:
    """A scripted fault becomes exactly `error`, keeping the HTTP status, with a message that names the
    provider and the model (`names`)."""
    fake.script(reply)
    with pytest.raises(ProviderError) as caught:
        await provider.generate(request, spec)
    provider_name, model = names
    assert type(caught.value) is error
    assert (caught.value.provider, caught.value.model, caught.value.status) == (provider_name, model, status)
    assert provider_name in str(caught.value) and f"model '{model}'" in str(caught.value)


async def assert_images_refused_before_sending(provider: Provider, fake: FakeProviderServer,
                                               request: Callable[..., GenerateRequest], spec: ModelSpec) -> None:
    """An image for a model without image support is refused before anything reaches the server."""
    with pytest.raises(BadRequestError, match="does not accept images"):
        await provider.generate(request(images=(ImageInput("image/png", b"x"),)), spec)
    assert fake.requests == []


async def assert_usage_read(provider: Provider, fake: FakeProviderServer, request: GenerateRequest, spec: ModelSpec,
                            billed_output: int) -> None:
    """Usage comes from the reply: input, cached and reasoning tokens as reported, and output as billed
    (`billed_output`: how the wire counts reasoning into output)."""
    fake.script(ReplySpec(text="ok", prompt_tokens=200, completion_tokens=40, reasoning_tokens=60, cached_tokens=128))
    usage = (await provider.generate(request, spec)).usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.cached_tokens) == (
        200, billed_output, 60, 128)
