"""Quorum against a real local model server (opt-in: `./run-tests.sh --real-model`).

llama-cpp-python's server with Gemma 3 270M, a base model: its words mean nothing, so every assertion is about
the plumbing — status, which model answered, token counts, limits, what was kept out of the prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.env_quorum import environment, quorum
from tests.real_model_support import N_CTX, LlamaServer, llama_server

pytestmark = pytest.mark.real_model

ALIAS = "gemma"
PAIR = ("gemma-a", "gemma-b")
# Declared so that every call sends a small max_tokens: a base model rarely stops on its own.
ANSWER_TOKENS = 48


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-model")


@pytest.fixture(scope="module")
def one(workdir: Path) -> Iterator[LlamaServer]:
    with llama_server(workdir, [ALIAS]) as server:
        yield server


@pytest.fixture(scope="module")
def pair(workdir: Path) -> Iterator[LlamaServer]:
    with llama_server(workdir, list(PAIR)) as server:
        yield server


def declared(tmp_path: Path, server: LlamaServer) -> dict[str, str]:
    """The server's models declared with the real window and a small answer."""
    path = tmp_path / "custom_models.json"
    path.write_text(json.dumps({"models": [
        {"model_name": alias, "context_window": N_CTX, "max_output_tokens": ANSWER_TOKENS, "intelligence_score": 8,
         # llama-cpp-python's `gemma` chat format drops system messages: Quorum folds its system prompt in.
         "supports_system_prompt": False}
        for alias in server.aliases]}))
    return environment(tmp_path / "home", CUSTOM_API_URL=server.url, CUSTOM_MODELS_CONFIG_PATH=str(path),
                       QUORUM_MAX_RETRIES="0")


async def test_discovery_lists_the_served_alias_and_takes_the_window_from_custom_context_window(
    one: LlamaServer, tmp_path: Path,
) -> None:
    # llama-cpp-python's /v1/models gives ids only: the window comes from the setting, or is assumed.
    told = environment(tmp_path / "told", CUSTOM_API_URL=one.url, CUSTOM_CONTEXT_WINDOW=str(N_CTX))
    async with quorum(told, tmp_path) as q:
        listed = await q.ok("listmodels")
    assert f"`{ALIAS}`" in listed.content
    assert f"context {N_CTX:,} (window: CUSTOM_CONTEXT_WINDOW), output 2,048" in listed.content
    silent = environment(tmp_path / "silent", CUSTOM_API_URL=one.url)
    async with quorum(silent, tmp_path) as q:
        listed = await q.ok("listmodels")
    assert "context 32,768 (window: not reported; assumed 32,768" in listed.content and "output 2,048" in listed.content


async def test_an_undeclared_served_gemma_gets_the_system_prompt_folded_in_and_the_real_server_reads_it(
    one: LlamaServer, tmp_path: Path,
) -> None:
    # Nothing declared: the served name alone tells Quorum this model has no system role. Were the system prompt
    # sent as a system message, the server's gemma format would drop it and count only the short prompt.
    told = environment(tmp_path / "auto", CUSTOM_API_URL=one.url, CUSTOM_CONTEXT_WINDOW=str(N_CTX),
                       QUORUM_MAX_RETRIES="0")
    async with quorum(told, tmp_path) as q:
        answer = await q.ok("chat", prompt="hi", model=ALIAS)
    estimate = answer.metadata["prompt"]["prompt_tokens_estimate"]["system_and_input"]
    assert answer.metadata["tokens"]["input"] >= estimate // 2, (answer.metadata["tokens"], estimate)


async def test_chat_and_its_continuation_reach_the_real_model_with_a_bounded_answer(
    one: LlamaServer, tmp_path: Path,
) -> None:
    async with quorum(declared(tmp_path, one), tmp_path) as q:
        first = await q.ok("chat", prompt="Name three colours.", model=ALIAS)
        second = await q.ok("chat", prompt="And three animals.", model=ALIAS, continuation_id=first.thread_id)
    for answer in (first, second):
        assert answer.status != "error" and answer.metadata["model_used"] == ALIAS
        assert 0 < answer.metadata["tokens"]["output"] <= ANSWER_TOKENS
        # The model read the system prompt too: the server counted about as many tokens as Quorum estimated.
        assert answer.metadata["tokens"]["input"] >= answer.metadata["prompt"]["prompt_tokens_estimate"]["system_and_input"] // 2
    # The continuation carried the first exchange to the model: its prompt is longer.
    assert second.metadata["tokens"]["input"] > first.metadata["tokens"]["input"] > 0
    assert second.continuation_id == first.thread_id


async def test_a_workflows_final_step_consults_the_real_model(one: LlamaServer, tmp_path: Path) -> None:
    source = tmp_path / "cache.py"
    source.write_text("def key(user, now):\n    return f'{user}:{now}'\n")
    async with quorum(declared(tmp_path, one), tmp_path) as q:
        done = await q.ok("thinkdeep", step="Why does the cache never hit?", step_number=1, total_steps=1,
                          next_step_required=False, findings="the key includes the current time",
                          relevant_files=[str(source)], confidence="high", model=ALIAS)
    assert done.metadata["model_used"] == ALIAS
    assert done.envelope.get("expert_analysis") is not None
    assert 0 < done.metadata["tokens"]["output"] <= ANSWER_TOKENS


async def test_consensus_over_two_aliases_of_one_model_gets_both_perspectives(pair: LlamaServer, tmp_path: Path) -> None:
    async with quorum(declared(tmp_path, pair), tmp_path) as q:
        body = await q.ok("consensus", step="Should the cache key drop the timestamp?",
                          models=[{"model": PAIR[0], "stance": "for"}, {"model": PAIR[1], "stance": "against"}])
    perspectives = json.loads(body.content)["perspectives"]
    assert {(p["model"], p["stance"], p["status"]) for p in perspectives} == {
        (PAIR[0], "for", "ok"), (PAIR[1], "against", "ok")}
    assert all(0 < m["tokens"]["output"] <= ANSWER_TOKENS for m in body.metadata["models"])


async def test_a_file_larger_than_the_window_is_refused_before_the_model_is_called(
    one: LlamaServer, tmp_path: Path,
) -> None:
    big = tmp_path / "big.log"
    big.write_text("".join(f"line {i}: request served in {i % 97} ms from replica {i % 5}\n" for i in range(1500)))
    async with quorum(declared(tmp_path, one), tmp_path) as q:
        answer = await q.call("chat", prompt="Summarise the log.", model=ALIAS, absolute_file_paths=[str(big)])
    assert answer.is_error and answer.error_kind == "prompt_too_large", answer.envelope
    assert "big.log" in answer.content and "No model was called" in answer.content, answer.envelope