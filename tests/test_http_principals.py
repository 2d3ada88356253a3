"""Several users on one HTTP address: each principal sees, continues and deletes only its own threads."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from server import create_server
from tests.redis_support import redis_url  # noqa: F401 (a fixture)
from utils.access.http_transport import build_http_app
from utils.access.principals import TokenFileError, TokenVerifier, parse_tokens, token_digest

TOKENS = {"alice": "alice-token-" + "a" * 40, "bob": "bob-token-" + "b" * 40}


def tokens_file(path: Path) -> Path:
    lines = ["# team tokens, hashed", *(f"{name}:{token_digest(token)}" for name, token in TOKENS.items()), ""]
    path.write_text("\n".join(lines))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(harness: Any, verifier: TokenVerifier) -> AsyncIterator[str]:
    """One Quorum replica over streamable HTTP on a free loopback port."""
    port = _free_port()
    app = build_http_app(create_server(harness.services), verifier, "127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, "the HTTP replica did not start"
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


class Caller:
    """One principal's MCP client on one replica."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def call(self, tool: str, **arguments: Any) -> tuple[dict[str, Any], bool]:
        result = await self.client.call_tool(tool, arguments)
        return json.loads(result.content[0].text), bool(result.is_error)


async def connect(stack: AsyncExitStack, url: str, who: str) -> Caller:
    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKENS[who]}"}, timeout=30)
    )
    return Caller(await stack.enter_async_context(Client(streamable_http_client(url, http_client=http))))


async def test_two_principals_on_two_replicas_sharing_redis_see_only_their_own_threads(
    harness_factory, redis_url: str, tmp_path: Path  # noqa: F811 (the fixture)
) -> None:
    from utils.conversations.storage.redis_store import RedisThreadStore

    prefix = f"t{uuid.uuid4().hex}:"
    stores = [RedisThreadStore(redis_url, timedelta(hours=1), prefix=prefix) for _ in range(2)]
    replica_a, replica_b = [await harness_factory(store=s) for s in stores]
    verifier = TokenVerifier.from_settings("", tokens_file(tmp_path / "tokens"))
    async with AsyncExitStack() as stack:
        url_a = await stack.enter_async_context(serving(replica_a, verifier))
        url_b = await stack.enter_async_context(serving(replica_b, verifier))
        alice_a, alice_b = await connect(stack, url_a, "alice"), await connect(stack, url_b, "alice")
        bob_a, bob_b = await connect(stack, url_a, "bob"), await connect(stack, url_b, "bob")
        # The local stdio user of replica A has a thread of its own in the same store.
        local = await replica_a.ok("chat", prompt="local user's plan", model="alpha")
        local_id = local["continuation_offer"]["continuation_id"]

        (alice, _), (bob, _) = await asyncio.gather(
            alice_a.call("chat", prompt="alice's roadmap", model="alpha"),
            bob_b.call("chat", prompt="bob's budget", model="alpha"),
        )
        alice_id = alice["continuation_offer"]["continuation_id"]
        bob_id = bob["continuation_offer"]["continuation_id"]
        unknown_id = str(uuid.uuid4())

        results = await asyncio.gather(
            alice_b.call("chat", prompt="continue on the other replica", model="alpha", continuation_id=alice_id),
            bob_a.call("chat", prompt="read alice's thread", model="alpha", continuation_id=alice_id),
            bob_a.call("chat", prompt="read a thread nobody has", model="alpha", continuation_id=unknown_id),
            alice_a.call("chat", prompt="read the local thread", model="alpha", continuation_id=local_id),
            bob_b.call("threads", action="list"),
            alice_b.call("threads", action="list"),
            *(bob_b.call("threads", action=action, continuation_id=alice_id) for action in ("show", "export", "delete")),
        )
        (cont, cont_err), (stolen, stolen_err), (missing, _), (local_try, local_err) = results[:4]
        (bob_list, _), (alice_list, _) = results[4:6]
        assert not cont_err and cont["continuation_offer"]["continuation_id"] == alice_id
        assert any("alice's roadmap" in m.content for m in replica_b.fakes["custom"].calls[-1].messages)
        assert stolen_err and stolen["metadata"]["error_kind"] == "unknown_thread"
        # Indistinguishable from an id that never existed: nothing tells bob that alice's thread is real.
        assert stolen["content"].replace(alice_id, "ID") == missing["content"].replace(unknown_id, "ID")
        assert local_err and local_try["metadata"]["error_kind"] == "unknown_thread"
        assert bob_id in bob_list["content"] and alice_id not in bob_list["content"] and local_id not in bob_list["content"]
        assert alice_id in alice_list["content"] and bob_id not in alice_list["content"] and local_id not in alice_list["content"]
        for body, is_error in results[6:]:
            assert is_error and body["metadata"]["error_kind"] == "unknown_thread", body
        assert "alice's roadmap" not in json.dumps([r[0] for r in results[1:3] + results[4:5] + results[6:]])

    # Nothing bob did touched alice's thread; the local user still sees only its own.
    assert len((await stores[0].get(alice_id, owners=("alice",))).turns) == 4
    local_list = (await replica_a.ok("threads"))["content"]
    assert local_id in local_list and alice_id not in local_list and bob_id not in local_list
    for store in stores:
        await store.close()


async def test_local_threads_are_shared_over_http_only_when_configured(harness_factory, tmp_path: Path) -> None:
    verifier = TokenVerifier.from_settings("", tokens_file(tmp_path / "tokens"))
    for share, visible in (("false", False), ("true", True)):
        harness = await harness_factory({"QUORUM_HTTP_SHARE_LOCAL_THREADS": share})
        local = await harness.ok("chat", prompt="local plan", model="alpha")
        local_id = local["continuation_offer"]["continuation_id"]
        async with AsyncExitStack() as stack:
            alice = await connect(stack, await stack.enter_async_context(serving(harness, verifier)), "alice")
            listing, _ = await alice.call("threads", action="list")
            cont, is_error = await alice.call("chat", prompt="go on", model="alpha", continuation_id=local_id)
        assert (local_id in listing["content"]) is visible
        assert is_error is not visible, cont


async def test_a_token_not_in_the_file_is_refused_and_the_single_token_still_works(harness, tmp_path: Path) -> None:
    verifier = TokenVerifier.from_settings("solo-token", tokens_file(tmp_path / "tokens"))
    async with serving(harness, verifier) as url, httpx2.AsyncClient() as http:
        refused = await http.post(url, headers={"Authorization": "Bearer not-a-token"}, json={})
        assert refused.status_code == 401 and "QUORUM_HTTP_TOKENS_FILE" in refused.text
        async with Client(streamable_http_client(url, http_client=httpx2.AsyncClient(
            headers={"Authorization": "Bearer solo-token"}, timeout=30))) as client:
            result = await client.call_tool("chat", {"prompt": "hello", "model": "alpha"})
    assert not result.is_error
    [thread] = await harness.services.store.list(owners=("http",))
    assert await harness.services.store.list() == []  # the HTTP user's thread is not the local user's
    assert thread.first_prompt == "hello"


def test_the_tokens_file_maps_each_hashed_token_to_its_principal(tmp_path: Path) -> None:
    verifier = TokenVerifier.from_settings("", tokens_file(tmp_path / "tokens"))
    assert verifier.principal_name(TOKENS["alice"]) == "alice"
    assert verifier.principal_name(TOKENS["bob"]) == "bob"
    assert verifier.principal_name("alice") is None and verifier.principal_name("") is None
    assert sorted(verifier.names) == ["alice", "bob"]


@pytest.mark.parametrize(
    ("line", "complaint", "number"),
    [
        ("alice " + "0" * 64, "not 'name:sha256hex'", 2),
        ("alice:plain-text-token", "not 'name:sha256hex'", 2),
        ("local:" + "0" * 64, "stdio user", 2),
        ("a:" + "0" * 64 + "\nb:" + "0" * 64, "same token", 3),
    ],
)
def test_a_bad_tokens_file_line_is_refused_with_its_line_number_and_the_fix(line: str, complaint: str, number: int) -> None:
    with pytest.raises(TokenFileError, match=complaint) as caught:
        parse_tokens(f"# header\n{line}\n", "tokens.txt")
    assert "tokens.txt line 2" in str(caught.value) or "line 3" in str(caught.value)
    assert f"tokens.txt line {number}" in str(caught.value), str(caught.value)


async def test_an_mcp_session_opened_by_one_principal_is_unknown_to_another(harness, tmp_path: Path) -> None:
    verifier = TokenVerifier.from_settings("", tokens_file(tmp_path / "tokens"))
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    async with serving(harness, verifier) as url, httpx2.AsyncClient(timeout=30) as http:
        opened = await http.post(url, json=init, headers={**accept, "Authorization": f"Bearer {TOKENS['alice']}"})
        session = opened.headers.get("mcp-session-id")
        assert opened.status_code == 200 and session
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        hijack = await http.post(url, json=listing, headers={
            **accept, "Authorization": f"Bearer {TOKENS['bob']}", "mcp-session-id": session})
    assert hijack.status_code == 404


async def test_the_server_refuses_to_start_with_an_unreadable_or_malformed_tokens_file(harness_factory, tmp_path: Path) -> None:
    from utils.access.http_transport import serve_http

    malformed = tmp_path / "tokens"
    malformed.write_text("alice:not-a-hash\n")
    for path, complaint in ((tmp_path / "missing", "cannot be read"), (malformed, "line 1")):
        harness = await harness_factory({"QUORUM_HTTP_TOKENS_FILE": str(path)})
        with pytest.raises(SystemExit, match=complaint):
            await serve_http(harness.services, harness.server)


async def test_version_over_http_names_the_caller_and_how_principals_are_set_up_but_no_one_else(
    harness_factory, tmp_path: Path
) -> None:
    path = tokens_file(tmp_path / "tokens")
    harness = await harness_factory({"QUORUM_HTTP_TOKENS_FILE": str(path)})
    verifier = TokenVerifier.from_settings("", path)
    async with AsyncExitStack() as stack:
        alice = await connect(stack, await stack.enter_async_context(serving(harness, verifier)), "alice")
        body, is_error = await alice.call("version")
    assert not is_error, body
    http = json.loads(body["content"])["http"]
    assert http == {"principal": "alice", "principals_from": "QUORUM_HTTP_TOKENS_FILE", "local_threads_shared": False}
    assert "bob" not in body["content"]
    local = json.loads((await harness.ok("version"))["content"])
    assert "http" not in local
