"""Long provider calls: progress notifications while waiting (only for clients that ask), and cancellation
from the client that ends the provider call, records nothing and leaves the server serving."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.client import ToolClient
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer, ReplySpec
from tests.fakes.spawn import quorum_command, quorum_env, stdio_params

MODEL = "gpt-fake"
Progress = tuple[float, float | None, str | None]


def local_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Quorum whose only provider is a local OpenAI-compatible server: the fake."""
    return environment(tmp_path / "home", CUSTOM_API_URL=f"{url}/v1", CUSTOM_MODEL_NAME=MODEL, **extra)


async def chat_with_progress(q: ToolClient, **arguments: Any) -> tuple[Any, list[Progress]]:
    received: list[Progress] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        received.append((progress, total, message))

    result = await q.ok("chat", progress_callback=on_progress, **arguments)
    return result, received


def assert_heartbeats(received: list[Progress], at_least: int) -> None:
    assert len(received) >= at_least, received
    values = [p for p, _, _ in received]
    assert values == sorted(values) and len(set(values)) == len(values)  # progress only moves forward
    for _, _, message in received:
        assert message is not None and f"custom/{MODEL}" in message and "s elapsed" in message


async def test_a_slow_call_sends_heartbeats_naming_the_model_and_the_elapsed_time(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.script(ReplySpec(delay=1.3))
    async with quorum(local_env(fake_server.url, tmp_path, QUORUM_HEARTBEAT_S="0.2"), tmp_path) as q:
        result, received = await chat_with_progress(q, prompt="take your time")
    assert result.metadata["model_used"] == MODEL
    assert_heartbeats(received, at_least=4)


@pytest.mark.slow
async def test_a_sixty_second_provider_call_with_a_five_second_heartbeat_sends_at_least_ten_notifications(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.script(ReplySpec(delay=60.0))
    async with quorum(local_env(fake_server.url, tmp_path, QUORUM_HEARTBEAT_S="5"), tmp_path) as q:
        result, received = await chat_with_progress(q, prompt="think for a minute")
    assert result.content.startswith(f"[fake:{MODEL}]")
    assert_heartbeats(received, at_least=10)
    last = re.search(r"(\d+)s elapsed", str(received[-1][2]))
    assert last is not None and int(last.group(1)) >= 50


async def test_a_client_that_cancels_its_call_ends_the_provider_request_and_records_nothing(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    async with quorum(local_env(fake_server.url, tmp_path), tmp_path) as q:
        await cancel_a_hanging_follow_up_and_go_on(q, fake_server, wait_s=10)


async def cancel_a_hanging_follow_up_and_go_on(q: ToolClient, fake_server: FakeProviderServer, wait_s: float) -> None:
    """Start a thread, cancel a follow-up whose provider call hangs, then continue the thread; assert that the
    provider request ended because the client went away, nothing was recorded for it, and the thread goes on."""
    first = await q.ok("chat", prompt="remember 42")
    fake_server.script(ReplySpec(hang=True))
    pending = asyncio.create_task(q.call("chat", prompt="this one hangs", continuation_id=first.thread_id))
    await asyncio.to_thread(fake_server.wait_for_generations, 2, wait_s)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    ended = await asyncio.to_thread(fake_server.wait_for_generations, 2, wait_s, finished=True)
    after_cancel = await q.export(first.thread_id)
    again = await q.ok("chat", prompt="still there?", continuation_id=first.thread_id)
    final = await q.export(first.thread_id)

    assert ended[1].outcome == "client went away"
    assert len(after_cancel["turns"]) == 2
    assert again.thread_id == first.thread_id
    assert [t["content"] for t in final["turns"] if t["role"] == "user"] == ["remember 42", "still there?"]


async def test_over_stdio_cancelling_the_client_task_cancels_the_provider_call_and_the_session_goes_on(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    from mcp import Client

    env = quorum_env(tmp_path / "home", fake_server.url, QUORUM_STORAGE="memory")
    async with Client(stdio_params(env, cwd=tmp_path)) as client:
        await cancel_a_hanging_follow_up_and_go_on(ToolClient(client), fake_server, wait_s=20)


# ---- the protocol as written on the wire ---------------------------------------------------------

class RawStdio:
    """Quorum spawned over stdio and spoken to in raw JSON-RPC, one message per line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.next_id = 0

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
        await self.process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        await self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    async def until(self, request_id: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every message up to and including the response to `request_id`; each stdout line must be JSON-RPC."""
        assert self.process.stdout is not None
        seen: list[dict[str, Any]] = []
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            assert line, "the server closed stdout"
            message = json.loads(line)
            assert message.get("jsonrpc") == "2.0", line
            seen.append(message)
            if message.get("id") == request_id and "method" not in message:
                return seen

    async def call(self, tool: str, arguments: dict[str, Any], token: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        return await self.until(await self.request("tools/call", params))


def envelope(messages: list[dict[str, Any]]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(messages[-1]["result"]["content"][0]["text"])
    return decoded


@pytest.fixture
async def raw(fake_server: FakeProviderServer, tmp_path: Path) -> AsyncIterator[RawStdio]:
    command, args = quorum_command()
    env = quorum_env(tmp_path / "home", fake_server.url, QUORUM_HEARTBEAT_S="0.2", QUORUM_STORAGE="memory")
    process = await asyncio.create_subprocess_exec(command, *args, cwd=tmp_path, env=env,
                                                   stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    session = RawStdio(process)
    try:
        await session.until(await session.request("initialize", {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1"}}))
        await session.send({"method": "notifications/initialized"})
        yield session
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_progress_goes_out_as_protocol_notifications_only_to_a_call_that_carries_a_progress_token(
    raw: RawStdio, fake_server: FakeProviderServer,
) -> None:
    fake_server.script(ReplySpec(delay=0.9), ReplySpec(delay=0.9))
    unasked = await raw.call("chat", {"prompt": "no progress please"})
    asked = await raw.call("chat", {"prompt": "progress please"}, token="tok-7")

    assert [m.get("method") for m in unasked] == [None]
    notes = [m for m in asked if m.get("method") == "notifications/progress"]
    assert len(notes) >= 3 and len(asked) == len(notes) + 1
    for note in notes:
        assert note["params"]["progressToken"] == "tok-7"
        assert f"custom/{MODEL}" in note["params"]["message"] and "elapsed" in note["params"]["message"]
    assert envelope(asked)["status"] == "continuation_available"


async def test_a_cancelled_notification_ends_the_provider_call_gets_no_reply_and_leaves_the_thread_intact(
    raw: RawStdio, fake_server: FakeProviderServer,
) -> None:
    thread_id = envelope(await raw.call("chat", {"prompt": "remember 42"}))["continuation_offer"]["continuation_id"]
    fake_server.script(ReplySpec(hang=True))
    hanging = await raw.request("tools/call", {"name": "chat", "arguments": {
        "prompt": "this one hangs", "continuation_id": thread_id}})
    await asyncio.to_thread(fake_server.wait_for_generations, 2, 20)
    await raw.send({"method": "notifications/cancelled", "params": {"requestId": hanging, "reason": "user stop"}})
    ended = await asyncio.to_thread(fake_server.wait_for_generations, 2, 20, finished=True)

    exported = await raw.call("threads", {"action": "export", "continuation_id": thread_id})
    assert all(m.get("id") != hanging for m in exported)  # a cancelled request is never answered
    assert ended[1].outcome == "client went away"
    assert len(json.loads(envelope(exported)["content"])["turns"]) == 2
    again = envelope(await raw.call("chat", {"prompt": "still there?", "continuation_id": thread_id}))
    assert again["status"] == "continuation_available"
