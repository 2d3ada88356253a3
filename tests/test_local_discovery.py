"""A local server's models and context windows are learnt from the server itself, lazily and once.

The fake provider imitates each server's way of telling (tests/fakes/wire_local.py); Quorum is configured only
by CUSTOM_API_URL (plus what each test adds) and driven through an in-memory MCP client.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.discovery import discover, server_root, window_from_ollama_show, windows_from_model_list
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer, ReplySpec
from tests.fakes.wire_local import TRAINED_CONTEXT

MODEL = "tiny-local"
PROBE_KINDS = ("openai.models", "lmstudio.models", "llamacpp.props", "ollama.version", "ollama.show")


def local_env(fake: FakeProviderServer, home: Path, **extra: str) -> dict[str, str]:
    return environment(home, CUSTOM_API_URL=fake.openai_url, **extra)


def sent_output_cap(fake: FakeProviderServer) -> int:
    body = fake.chat_requests()[-1].body
    return int(body.get("max_tokens") or body.get("max_completion_tokens"))


@pytest.mark.parametrize(
    ("flavour", "window", "told_by"),
    [
        ("vllm", 8_192, "vLLM max_model_len"),
        ("ollama", 8_192, "Ollama num_ctx"),
        ("lmstudio", 8_192, "LM Studio loaded_context_length"),
        ("llamacpp", 8_192, "llama.cpp /props n_ctx"),
    ],
)
async def test_with_nothing_declared_chat_uses_the_served_model_and_an_output_cap_that_fits_its_window(
    fake_server: FakeProviderServer, tmp_path: Path, flavour: str, window: int, told_by: str,
) -> None:
    fake_server.configure(models=[MODEL], flavour=flavour, windows={MODEL: window})
    async with quorum(local_env(fake_server, tmp_path / "home"), tmp_path) as q:
        answer = await q.ok("chat", prompt="hello local")
        listed = await q.ok("listmodels")
    assert answer.metadata["model_used"] == MODEL
    assert fake_server.chat_requests()[-1].body["model"] == MODEL
    # An 8K window leaves the answer a small share: never the 6,553 tokens a guessed 32K window allowed.
    assert 0 < sent_output_cap(fake_server) <= window // 4
    assert f"`{MODEL}`" in listed.content and f"context {window:,} (window: {told_by})" in listed.content


async def test_ollama_without_num_ctx_gives_the_models_trained_context_length(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.configure(models=[MODEL], flavour="ollama", windows={})
    async with quorum(local_env(fake_server, tmp_path / "home"), tmp_path) as q:
        listed = await q.ok("listmodels")
    assert f"context {TRAINED_CONTEXT:,} (window: Ollama context_length)" in listed.content
    shows = fake_server.requests_of("ollama.show")
    assert [r.body for r in shows] == [{"model": MODEL}]


@pytest.mark.parametrize(
    ("setting", "shown", "cap"),
    [
        ({"CUSTOM_CONTEXT_WINDOW": "4096"}, "context 4,096 (window: CUSTOM_CONTEXT_WINDOW)", 1_024),
        ({}, "context 32,768 (window: not reported; assumed 32,768 (set CUSTOM_CONTEXT_WINDOW))", 2_048),
    ],
)
async def test_a_server_that_tells_nothing_gets_custom_context_window_else_an_assumed_one_with_a_bounded_answer(
    fake_server: FakeProviderServer, tmp_path: Path, setting: dict[str, str], shown: str, cap: int,
) -> None:
    fake_server.configure(models=[MODEL], flavour="plain")
    async with quorum(local_env(fake_server, tmp_path / "home", **setting), tmp_path) as q:
        await q.ok("chat", prompt="hello")
        listed = await q.ok("listmodels")
    assert shown in listed.content
    assert sent_output_cap(fake_server) <= cap


async def test_a_declared_model_missing_from_the_catalogue_gets_its_window_from_the_server(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.configure(models=[MODEL, "other-local"], flavour="vllm", windows={MODEL: 8_192, "other-local": 65_536})
    env = local_env(fake_server, tmp_path / "home", CUSTOM_MODEL_NAME=MODEL)
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hello")
        assert sent_output_cap(fake_server) <= 2_048
        # Served but not declared: callable by name, with its own window.
        other = await q.ok("chat", prompt="hello", model="other-local")
        listed = await q.ok("listmodels")
    assert other.metadata["model_used"] == "other-local"
    assert sent_output_cap(fake_server) <= 65_536 // 4
    assert "also served, callable by name: `other-local` (context 65,536)" in listed.content


async def test_discovery_happens_at_the_first_call_that_needs_it_and_only_once(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.configure(models=[MODEL], flavour="llamacpp", windows={MODEL: 8_192})
    async with quorum(local_env(fake_server, tmp_path / "home"), tmp_path) as q:
        await q.client.list_tools()
        version = json.loads((await q.ok("version")).content)
        assert fake_server.requests == []  # start-up, tools/list and version ask nothing
        assert version["local_server"]["discovery"].startswith("not yet")
        first = await q.ok("chat", prompt="one")
        await q.ok("chat", prompt="two", continuation_id=first.thread_id)
        await q.ok("listmodels")
        version = json.loads((await q.ok("version")).content)
    assert len(fake_server.requests_of("openai.models")) == 1
    assert len(fake_server.requests_of("llamacpp.props")) == 1
    assert version["local_server"]["windows"][MODEL] == {"context_window": 8_192, "from": "llama.cpp /props n_ctx"}


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()


async def test_a_server_that_never_answers_costs_one_short_bounded_wait_and_listmodels_says_why(
    silent_server: str, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", CUSTOM_API_URL=silent_server, QUORUM_DISCOVERY_TIMEOUT_S="0.3")
    async with quorum(env, tmp_path) as q:
        listed = await q.ok("listmodels")
        again = await q.ok("listmodels")
        version = json.loads((await q.ok("version")).content)
    assert "could not ask the server what it serves" in listed.content and "no answer within 0.3s" in listed.content
    assert "no answer within 0.3s" in again.content  # the failure is kept, not retried on every call
    assert "no answer within 0.3s" in version["local_server"]["discovery"]


def test_each_servers_own_shape_is_read() -> None:
    listed = windows_from_model_list({"data": [
        {"id": "a", "max_model_len": 4096},
        {"id": "b", "meta": {"n_ctx_train": 131072}},
        {"id": "c"},
        {"no": "id"},
    ]})
    assert listed == {"a": (4096, "vLLM max_model_len"), "b": (131072, "llama.cpp n_ctx_train"), "c": (None, "")}
    assert window_from_ollama_show({"parameters": "num_ctx 2048", "model_info": {"qwen2.context_length": 32768}}) \
        == (2048, "Ollama num_ctx")
    assert window_from_ollama_show({"model_info": {"qwen2.context_length": 32768}}) == (32768, "Ollama context_length")
    assert window_from_ollama_show("not json") == (None, "")
    assert server_root("http://localhost:11434/v1/") == "http://localhost:11434"


async def test_discovery_of_a_closed_port_reports_the_connection_failure() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()
    found = await discover(url, timeout=5)
    assert found.models == () and "could not list models at" in found.error and "ConnectError" in found.error


async def test_the_allow_list_also_covers_served_models_nobody_declared(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.configure(models=[MODEL, "other-local"], flavour="vllm", windows={MODEL: 8_192})
    env = local_env(fake_server, tmp_path / "home", CUSTOM_MODEL_NAME=MODEL, CUSTOM_ALLOWED_MODELS=MODEL)
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hello")
        refused = await q.fail("chat", prompt="hello", model="other-local")
    assert refused.metadata["error_kind"] == "unknown_model"
    assert [r.body["model"] for r in fake_server.chat_requests()] == [MODEL]


async def test_a_window_stated_in_a_context_length_refusal_is_learnt_for_the_next_call(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    # llama-cpp-python lists ids only, but its refusal of a long prompt names the window it runs with.
    fake_server.configure(models=[MODEL], flavour="plain")
    fake_server.script(ReplySpec(status=400, error_code="context_length_exceeded", error_message=(
        "This model's maximum context length is 4096 tokens. However, you requested 9000 tokens "
        "(7000 in the messages, 2000 in the completion).")))
    async with quorum(local_env(fake_server, tmp_path / "home"), tmp_path) as q:
        refused = await q.fail("chat", prompt="a long question")
        await q.ok("chat", prompt="a long question")
        listed = await q.ok("listmodels")
    assert "window for 'tiny-local' is 4,096 tokens" in refused.content and "call again" in refused.content
    assert sent_output_cap(fake_server) <= 1_024
    assert "context 4,096 (window: the server's context-length error)" in listed.content


async def test_a_served_gemma_model_gets_the_system_prompt_folded_into_the_first_user_turn(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.configure(models=["gemma-3-270m"], flavour="plain")
    async with quorum(local_env(fake_server, tmp_path / "home"), tmp_path) as q:
        await q.ok("chat", prompt="hello gemma")
    messages = fake_server.chat_requests()[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user"] and "hello gemma" in messages[0]["content"]
    assert len(messages[0]["content"]) > len("hello gemma") * 10  # the system prompt came with it
