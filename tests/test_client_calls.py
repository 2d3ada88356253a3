"""The calls Claude Code, Gemini CLI and Codex CLI really send, replayed against the server (fast, in memory).

The recordings live in tests/client_calls.py; simulator_tests/test_real_clients.py checks them against the
installed CLIs. Here: injected control fields are ignored, unknown and near-miss fields are refused with the
field that was meant, each client's progress token gets its heartbeats, and the schemas still say what they
must once Codex has stripped `minimum`/`maximum`/`default` from them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from tests.client_calls import CODEX_STRIPPED_KEYWORDS, GEMINI_CLI, RECORDED
from tests.env_quorum import environment
from tests.fakes import ReplySpec
from tests.fakes.spawn import clean_environ, quorum_command
from tools.pipeline.arguments import CLIENT_CONTROL_FIELDS


def _replayable(call: dict[str, Any]) -> dict[str, Any]:
    """The recorded arguments, with the model the test harness serves."""
    arguments = dict(call["arguments"])
    if "model" in arguments:
        arguments["model"] = "alpha"
    return arguments


async def _send(client: Any, name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> types.CallToolResult:
    """A tools/call with exactly this `_meta`, as the client sent it on the wire."""
    params = types.CallToolRequestParams(name=name, arguments=arguments, _meta=meta)  # type: ignore[call-arg]
    return await client.session.send_request(types.CallToolRequest(params=params), types.CallToolResult)


@pytest.mark.parametrize("client_name", sorted(RECORDED))
async def test_the_call_each_real_client_sends_succeeds(harness, client_name):
    call = RECORDED[client_name]
    async with harness.connect() as client:
        result = await _send(client, call["name"], _replayable(call), call["_meta"])
    body = json.loads(result.content[0].text)
    assert not result.is_error, body
    assert body["status"] != "error"
    assert body["metadata"]["tool_name"] == call["name"]


async def test_gemini_cli_wait_for_previous_is_ignored_on_every_tool_and_not_stored(harness):
    first = await harness.ok("chat", prompt="hello", model="alpha", wait_for_previous=True)
    cid = first["continuation_offer"]["continuation_id"]
    await harness.ok("chat", prompt="again", model="alpha", continuation_id=cid, wait_for_previous=False)
    await harness.ok("planner", step="plan it", step_number=1, total_steps=1, next_step_required=False,
                     wait_for_previous=True)
    await harness.ok("listmodels", wait_for_previous=False)
    thread = await harness.services.store.get(cid)
    assert "wait_for_previous" not in thread.initial_request
    assert "wait_for_previous" not in harness.fakes["custom"].calls[-1].messages[-1].content


async def test_control_fields_are_one_declared_list_and_not_published_in_any_schema(harness):
    assert set(CLIENT_CONTROL_FIELDS) == {"wait_for_previous"} | set(GEMINI_CLI["arguments"])
    async with harness.connect() as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert not set(CLIENT_CONTROL_FIELDS) & set(tool.input_schema.get("properties", {})), tool.name


async def test_a_genuinely_unknown_field_is_still_refused(harness):
    body = await harness.fail("chat", prompt="hi", model="alpha", wait_for_next=True, frobnicate=1)
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert "'frobnicate' is not a field of this tool; remove it" in body["content"]
    assert "'wait_for_next' is not a field of this tool" in body["content"]


@pytest.mark.parametrize(
    ("tool", "wrong", "meant", "extra"),
    [
        ("chat", "absolute_file_path", "absolute_file_paths", {"prompt": "x"}),
        ("chat", "file_paths", "absolute_file_paths", {"prompt": "x"}),
        ("chat", "files", "absolute_file_paths", {"prompt": "x"}),
        ("chat", "absolut_file_paths", "absolute_file_paths", {"prompt": "x"}),
        ("chat", "continuation", "continuation_id", {"prompt": "x"}),
        ("chat", "message", "prompt", {}),
        ("clink", "cli", "cli_name", {"prompt": "x"}),
        ("codereview", "files", "relevant_files",
         {"step": "s", "step_number": 1, "total_steps": 1, "next_step_required": True, "findings": "f"}),
        ("thinkdeep", "setp_number", "step_number",
         {"step": "s", "total_steps": 1, "next_step_required": True, "findings": "f"}),
    ],
)
async def test_a_near_miss_field_name_says_which_field_was_meant(harness, tool, wrong, meant, extra):
    body = await harness.fail(tool, **{wrong: ["/tmp/a.py"] if "file" in wrong else "v"}, **extra)
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert f"'{wrong}' is not a field of this tool; did you mean '{meant}'?" in body["content"]


async def _stdio_exchange(env: dict[str, str], cwd: Path, lines: list[dict[str, Any]], until_id: int) -> list[dict[str, Any]]:
    """Spawn Quorum as the clients do, write `lines` (JSON-RPC) to it, and read until the answer to `until_id`."""
    command, args = quorum_command()
    proc = await asyncio.create_subprocess_exec(command, *args, cwd=str(cwd), env=env, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    received: list[dict[str, Any]] = []
    try:
        for line in lines:
            proc.stdin.write((json.dumps(line) + "\n").encode())
        await proc.stdin.drain()
        while not any(m.get("id") == until_id for m in received):
            raw = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert raw, f"Quorum closed stdout before answering request {until_id}: {received}"
            received.append(json.loads(raw))
    finally:
        proc.stdin.close()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    return received


@pytest.mark.parametrize("client_name", sorted(RECORDED))
async def test_heartbeats_over_stdio_carry_the_progress_token_each_client_sends(fake_server, tmp_path, client_name):
    """The recorded handshake and call, byte for byte as the client wrote them, to `server.py` over stdio."""
    fake_server.script(ReplySpec(delay=1.0))
    env = clean_environ(environment(tmp_path / "home", CUSTOM_API_URL=f"{fake_server.url}/v1",
                                    CUSTOM_MODEL_NAME="gpt-fake", QUORUM_HEARTBEAT_S="0.1"))
    call = RECORDED[client_name]
    arguments = {**call["arguments"], "prompt": "take your time", "model": "gpt-fake"}
    lines = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": client_name, "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
         "params": {"name": "chat", "arguments": arguments, "_meta": call["_meta"]}},
    ]
    received = await _stdio_exchange(env, tmp_path, lines, until_id=7)
    answer = next(m for m in received if m.get("id") == 7)
    assert answer["result"].get("isError") is not True, answer
    progress = [m["params"] for m in received if m.get("method") == "notifications/progress"]
    assert progress, f"no heartbeat reached {client_name}: {received}"
    token = call["_meta"]["progressToken"]
    assert {p["progressToken"] for p in progress} == {token}
    assert all(type(p["progressToken"]) is type(token) for p in progress)


def _strip(node: Any) -> Any:
    """What Codex sends its model: the schema without `minimum`, `maximum` and `default`."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in CODEX_STRIPPED_KEYWORDS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


async def test_schemas_still_say_what_matters_once_codex_strips_bounds_and_defaults(harness):
    async with harness.connect() as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        full, seen = tool.input_schema, _strip(tool.input_schema)
        # Stripping never makes a field look required, and every field survives.
        assert seen.get("required", []) == full.get("required", []), tool.name
        assert set(seen.get("properties", {})) == set(full.get("properties", {})), tool.name
        for name, prop in full.get("properties", {}).items():
            # A float range is not guessable (OpenAI's own temperature goes to 2): its description must carry it.
            if prop.get("type") == "number" and "maximum" in prop:
                text = seen["properties"][name].get("description", "")
                assert f"{prop['minimum']:g}" in text and f"{prop['maximum']:g}" in text, (tool.name, name, text)
