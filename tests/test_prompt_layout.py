"""Requests are laid out stable-first: the common preamble, then files and history, then the tool's instructions.

So a thread that moves across tools shares each request's prefix with the previous one, while every tool's
instructions still reach the model as system (or developer) text. Checked on the wire, at the fake provider.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer
from tools.base import Tool
from tools.pipeline.consult import preamble

KEY = "layout-test-key-0123456789"


def _catalogue(home: Path, vendor: str, *entries: dict[str, Any]) -> str:
    path = home / f"{vendor}_layout.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    models = [{"context_window": 200_000, "max_output_tokens": 4_000, "intelligence_score": 10, **e} for e in entries]
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return str(path)


def env(tmp_path: Path, url: str) -> dict[str, str]:
    """Four vendors at the fake: OpenAI (chat and responses models), Gemini, a local server and OpenRouter."""
    home = tmp_path / "home"
    return environment(
        home, MAX_CONVERSATION_TURNS="100",
        OPENAI_API_KEY=KEY, OPENAI_BASE_URL=f"{url}/v1",
        OPENAI_MODELS_CONFIG_PATH=_catalogue(home, "openai", {"model_name": "gpt-layout"},
                                             {"model_name": "gpt-layout-r", "use_responses_api": True}),
        GEMINI_API_KEY=KEY, GEMINI_BASE_URL=url,
        GEMINI_MODELS_CONFIG_PATH=_catalogue(home, "gemini", {"model_name": "gemini-layout"}),
        CUSTOM_API_URL=f"{url}/v1", CUSTOM_MODELS_CONFIG_PATH=_catalogue(home, "custom", {"model_name": "local-layout"}),
        OPENROUTER_API_KEY=KEY, OPENROUTER_BASE_URL=f"{url}/v1",
        OPENROUTER_MODELS_CONFIG_PATH=_catalogue(home, "openrouter", {"model_name": "anthropic/claude-layout"}),
    )



def connect(tmp_path: Path, fake: FakeProviderServer) -> Any:
    """Quorum on this test's environment, connected in memory."""
    return quorum(env(tmp_path, fake.url), tmp_path)


def source(tmp_path: Path) -> Path:
    path = tmp_path / "service.py"
    path.write_text("".join(f"def handler_{i}(request):\n    return compute(request, {i})\n" for i in range(300)))
    return path


async def chat_once(tmp_path: Path, fake: FakeProviderServer, model: str) -> None:
    """One chat with a source file: the request to inspect is the fake's last."""
    async with connect(tmp_path, fake) as q:
        await q.ok("chat", prompt="Explain it.", absolute_file_paths=[str(source(tmp_path))], model=model)


def final_step(file: Path, cid: str, model: str) -> dict[str, Any]:
    return {"step": "Checked the request path.", "step_number": 1, "total_steps": 1, "next_step_required": False,
            "findings": "handlers retry without backoff", "relevant_files": [str(file)], "confidence": "high",
            "continuation_id": cid, "model": model}


def wire(body: dict[str, Any]) -> bytes:
    return json.dumps(body["messages"], ensure_ascii=False, separators=(",", ":")).encode()


async def test_a_thread_moving_across_tools_shares_each_requests_material_with_the_next(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    file = source(tmp_path)
    async with connect(tmp_path, fake_server) as q:
        first = await q.ok("chat", prompt="What does service.py do?", absolute_file_paths=[str(file)], model="gpt-layout")
        cid = first.thread_id
        for tool in ("analyze", "codereview", "debug"):
            await q.ok(tool, **final_step(file, cid, "gpt-layout"))
    bodies = [r.body for r in fake_server.chat_requests()]
    assert len(bodies) == 4
    for previous, current in zip(bodies, bodies[1:]):
        before, after = wire(previous), wire(current)
        # Everything the previous request sent before its new request (preamble, file, history so far) is
        # repeated byte for byte at the head of the next one, though the tool changed.
        end = before.find(b"=== END CONVERSATION ===")
        material = before[: end if end >= 0 else before.index(b"=== NEW REQUEST ===")]
        assert after.startswith(material)
        assert len(material) > 0.5 * len(before)


@pytest.mark.parametrize("tool", ["chat", "codereview"])
async def test_on_openai_the_tools_instructions_are_a_system_message_after_the_material(
    fake_server: FakeProviderServer, tmp_path: Path, tool: str,
) -> None:
    if tool == "chat":
        await chat_once(tmp_path, fake_server, "gpt-layout")
    else:
        arguments = final_step(source(tmp_path), "", "gpt-layout")
        del arguments["continuation_id"]
        async with connect(tmp_path, fake_server) as q:
            await q.ok(tool, **arguments)
    messages = fake_server.last_request.body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "system"]
    assert messages[0]["content"] == preamble()
    assert messages[2]["content"] == Tool.system_prompt(tool)
    assert "--- BEGIN FILE" in messages[1]["content"]


async def test_on_the_responses_api_the_instructions_follow_the_material_as_a_developer_item(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    await chat_once(tmp_path, fake_server, "gpt-layout-r")
    body = fake_server.responses_requests()[-1].body
    assert body["instructions"] == preamble()
    assert [item["role"] for item in body["input"]] == ["user", "developer"]
    assert body["input"][1]["content"] == Tool.system_prompt("chat")


@pytest.mark.parametrize("model", ["gemini-layout", "local-layout"])
async def test_where_no_system_message_can_follow_the_material_the_instructions_join_the_leading_system_text(
    fake_server: FakeProviderServer, tmp_path: Path, model: str,
) -> None:
    await chat_once(tmp_path, fake_server, model)
    body = fake_server.last_request.body
    if model == "gemini-layout":
        system = body["systemInstruction"]["parts"][0]["text"]
        others = json.dumps(body["contents"])
    else:
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        system, others = body["messages"][0]["content"], json.dumps(body["messages"][1:])
    assert system.startswith(preamble().rstrip()) and system.endswith(Tool.system_prompt("chat"))
    assert "senior engineer" not in others


async def test_anthropic_models_through_openrouter_get_cache_breakpoints_after_the_files_and_the_history(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    file = source(tmp_path)
    async with connect(tmp_path, fake_server) as q:
        first = await q.ok("chat", prompt="Explain it.", absolute_file_paths=[str(file)], model="anthropic/claude-layout")
        await q.ok("chat", prompt="And the retries?", continuation_id=first.thread_id, model="anthropic/claude-layout")
    user = fake_server.last_request.body["messages"][1]
    parts = user["content"]
    assert [p.get("cache_control") for p in parts] == [{"type": "ephemeral"}, {"type": "ephemeral"}, None]
    assert parts[0]["text"].startswith("=== FILES ===") and parts[0]["text"].rstrip().endswith("=== END FILES ===")
    assert parts[1]["text"].rstrip().endswith("=== END CONVERSATION ===")
    assert parts[2]["text"].startswith("=== NEW REQUEST ===") and "And the retries?" in parts[2]["text"]
    # Other models get the same text as one plain string (no markers they might refuse).
    await chat_once(tmp_path, fake_server, "gpt-layout")
    assert isinstance(fake_server.last_request.body["messages"][1]["content"], str)
