"""Token usage and cost: read from each provider's reply, priced from the catalogue, stored per turn, totalled
per thread in every response and in `threads`, and bounded by QUORUM_MAX_COST_PER_THREAD_USD."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from providers.catalogue import ModelSpec, load_catalogue
from providers.openai_compat import chat_usage
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer, ReplySpec

KEY = "usage-test-key-0123456789"
# 10,000 tokens in (4,000 of them from the prompt cache); 1,000 visible out plus 2,000 of reasoning.
BUSY = ReplySpec(text="priced answer", prompt_tokens=10_000, completion_tokens=1_000, reasoning_tokens=2_000,
                 cached_tokens=4_000)
BUSY_TOKENS = {"input": 10_000, "output": 3_000, "reasoning": 2_000, "cached": 4_000}


def env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return environment(tmp_path / "home", GEMINI_API_KEY=KEY, GEMINI_BASE_URL=url, OPENAI_API_KEY=KEY,
                       OPENAI_BASE_URL=f"{url}/v1", **extra)


@dataclass(frozen=True)
class Completion:
    """Just enough of a chat completion for chat_usage: its usage object."""

    usage: Any


def spec_of(vendor: str, name: str) -> ModelSpec:
    return next(m for m in load_catalogue(vendor) if m.model_name == name)


def test_cached_input_is_billed_at_the_cached_price_when_the_catalogue_has_one() -> None:
    priced = ModelSpec(model_name="m", context_window=1000, max_output_tokens=100, input_price_per_mtok=2.0,
                       output_price_per_mtok=10.0, cached_input_price_per_mtok=0.5)
    unpriced = priced.model_copy(update={"cached_input_price_per_mtok": None})
    assert priced.cost_usd(1_000_000, 100_000, cached_tokens=400_000) == pytest.approx(1.2 + 0.2 + 1.0)
    assert unpriced.cost_usd(1_000_000, 100_000, cached_tokens=400_000) == pytest.approx(2.0 + 1.0)
    assert priced.cost_usd(1_000, 0, cached_tokens=5_000) == pytest.approx(1_000 * 0.5 / 1e6)  # never above input


def test_reasoning_reported_beside_completion_tokens_is_counted_as_output() -> None:
    from openai.types import CompletionUsage

    openai_style = CompletionUsage(prompt_tokens=100, completion_tokens=50, total_tokens=150,
                                   completion_tokens_details={"reasoning_tokens": 30})
    xai_style = CompletionUsage(prompt_tokens=100, completion_tokens=20, total_tokens=150,
                                completion_tokens_details={"reasoning_tokens": 30})
    assert chat_usage(Completion(openai_style)).output_tokens == 50
    assert chat_usage(Completion(xai_style)).output_tokens == 50


def test_deepseek_prompt_cache_hits_count_as_cached_tokens() -> None:
    from openai.types import CompletionUsage

    usage = CompletionUsage.model_validate({"prompt_tokens": 900, "completion_tokens": 10, "total_tokens": 910,
                                            "prompt_cache_hit_tokens": 640, "prompt_cache_miss_tokens": 260})
    assert chat_usage(Completion(usage)).cached_tokens == 640


@pytest.mark.parametrize(("model", "vendor", "name"), [("gpt5", "openai", "gpt-5"),
                                                       ("gemini-2.5-pro", "gemini", "gemini-2.5-pro")])
async def test_usage_from_either_wire_is_stored_on_the_turn_and_priced_from_the_catalogue(
    fake_server: FakeProviderServer, tmp_path: Path, model: str, vendor: str, name: str,
) -> None:
    fake_server.script(BUSY)
    async with quorum(env(tmp_path, fake_server.url), tmp_path) as q:
        answer = await q.ok("chat", prompt="price this", model=model)
        thread = await q.export(answer.thread_id)

    cost = spec_of(vendor, name).cost_usd(10_000, 3_000, cached_tokens=4_000)
    assert cost == pytest.approx((6_000 * 1.25 + 4_000 * 0.125 + 3_000 * 10.0) / 1e6)
    assert answer.metadata["tokens"] == BUSY_TOKENS
    assert answer.metadata["cost_usd"] == pytest.approx(cost)
    assistant = thread["turns"][-1]
    assert assistant["usage"] == BUSY_TOKENS and assistant["cost_usd"] == pytest.approx(cost)


async def test_thread_totals_are_in_every_response_and_in_threads_list_show_and_export(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.script(BUSY, ReplySpec(text="second", prompt_tokens=500, completion_tokens=100))
    async with quorum(env(tmp_path, fake_server.url), tmp_path) as q:
        first = await q.ok("chat", prompt="one", model="gpt5")
        second = await q.ok("chat", prompt="two", model="flash", continuation_id=first.thread_id)
        listed = await q.ok("threads")
        shown = await q.ok("threads", action="show", continuation_id=first.thread_id)
        exported = await q.ok("threads", action="export", continuation_id=first.thread_id)

    first_cost = spec_of("openai", "gpt-5").cost_usd(10_000, 3_000, 4_000)
    second_cost = spec_of("gemini", "gemini-2.5-flash").cost_usd(500, 100)
    total_tokens = {"input": 10_500, "output": 3_100, "reasoning": 2_000, "cached": 4_000}
    assert first.metadata["thread_tokens"] == BUSY_TOKENS
    assert first.metadata["thread_cost_usd"] == pytest.approx(first_cost)
    assert second.metadata["thread_tokens"] == total_tokens
    assert second.metadata["thread_cost_usd"] == pytest.approx(first_cost + second_cost)
    assert f"${first_cost + second_cost:.4f}" in listed.content
    assert "| 13,600 |" in listed.content  # input + output tokens of the thread
    for view in (shown, exported):
        assert view.metadata["tokens"] == total_tokens
        assert view.metadata["cost_usd"] == pytest.approx(first_cost + second_cost)
    assert "10,500 input, 3,100 output, 2,000 reasoning, 4,000 cached" in shown.content
    assert len(json.loads(exported.content)["turns"]) == 4


async def test_a_thread_over_its_budget_refuses_further_calls_clearly_and_a_new_thread_still_works(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.script(BUSY)  # costs about $0.038
    async with quorum(env(tmp_path, fake_server.url, QUORUM_MAX_COST_PER_THREAD_USD="0.01"), tmp_path) as q:
        first = await q.ok("chat", prompt="expensive", model="gpt5")
        refused = await q.fail("chat", prompt="more", model="gpt5", continuation_id=first.thread_id)
        consensus = await q.fail("consensus", step="Adopt it?", continuation_id=first.thread_id,
                                 models=[{"model": "gpt5"}, {"model": "flash"}])
        thread = await q.export(first.thread_id)
        fresh = await q.ok("chat", prompt="new topic", model="gpt5")

    for result in (refused, consensus):
        assert result.metadata["error_kind"] == "budget_exceeded"
        assert "QUORUM_MAX_COST_PER_THREAD_USD=0.01" in result.content and "$0.0380" in result.content
    assert len(fake_server.generation_requests()) == 2  # the first call and the fresh thread only
    assert len(thread["turns"]) == 2
    assert fresh.thread_id != first.thread_id
