"""Failover (QUORUM_FAILOVER): the syntax, which models are tried and when, and what the response and the
thread record about it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from providers.base import GenerateRequest, Message
from providers.calling import CallFailed, Unsuitable, call_model
from providers.catalogue import ModelSpec
from providers.errors import (
    AuthError, BadRequestError, ContentBlockedError, ContextTooLongError, EmptyResponseError, ProviderError,
    ProviderTimeoutError, RateLimitedError, RetryableError,
)
from providers.failover import (
    Chain, FailoverPlan, FailoverSyntaxError, alternates, parse_failover, worth_another_model,
)
from providers.registry import ProviderRegistry
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer, ReplySpec
from utils.config.settings import Settings

KEY = "failover-test-key-0123456789"
QUICK = {"QUORUM_MAX_RETRIES": "1", "QUORUM_RETRY_BASE_DELAY_S": "0"}


# ---- syntax ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "plan"), [
    ("", FailoverPlan()),
    ("off", FailoverPlan()),
    ("category", FailoverPlan(category_alternates=2)),
    ("Category:4", FailoverPlan(category_alternates=4)),
    ("gemini-2.5-pro>gpt-5>grok-4", FailoverPlan((Chain(("gemini-2.5-pro", "gpt-5", "grok-4")),))),
    (" pro > gpt5 ; flash>mini, category:1 ",
     FailoverPlan((Chain(("pro", "gpt5")), Chain(("flash", "mini"))), category_alternates=1)),
    ("gpt-fake:gemini-fake-pro", FailoverPlan((Chain(("gpt-fake", "gemini-fake-pro"), colon=True),))),
])
def test_failover_settings_parse_into_chains_and_a_category_allowance(text: str, plan: FailoverPlan) -> None:
    assert parse_failover(text) == plan
    assert parse_failover(text).enabled == bool(text.strip() and text != "off")


@pytest.mark.parametrize("text", ["gpt-5", "a>", ">b", "a>>b", "category:0", "category:11"])
def test_a_malformed_failover_setting_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(FailoverSyntaxError, match="QUORUM_FAILOVER entry"):
        parse_failover(text)


def test_a_malformed_setting_turns_failover_off_with_a_logged_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        registry = ProviderRegistry(Settings.from_env({"QUORUM_FAILOVER": "gpt-5", "OPENAI_API_KEY": KEY}))
    assert not registry.failover.enabled
    assert "failover is off" in caplog.text and "'gpt-5'" in caplog.text


# ---- which models, in which order --------------------------------------------------------------

def registry_with(tmp_path: Path, failover: str) -> ProviderRegistry:
    local = tmp_path / "local.json"
    local.write_text('{"models": [{"model_name": "qwen2.5-coder:32b", "context_window": 32768, '
                     '"max_output_tokens": 8192, "intelligence_score": 9}]}')
    return ProviderRegistry(Settings.from_env({
        "GEMINI_API_KEY": KEY, "OPENAI_API_KEY": KEY, "XAI_API_KEY": KEY, "CUSTOM_API_URL": "http://127.0.0.1:9/v1",
        "CUSTOM_MODELS_CONFIG_PATH": str(local), "QUORUM_FAILOVER": failover}))


def names(routes: list[Any]) -> list[str]:
    return [r.spec.model_name for r in routes]


def test_a_chain_offers_the_models_after_the_one_that_failed_then_category_alternates_from_other_providers(
    tmp_path: Path,
) -> None:
    registry = registry_with(tmp_path, "pro>gpt5>grok; gemini-2.5-pro>gpt5>o3; category:2")
    failed = registry.resolve("gpt5")
    offered = alternates(registry.failover, registry, failed, "reasoning")
    assert names(offered)[:3] == ["grok-4", "o3", "gemini-3-pro-preview"]
    assert all(r.vendor.name != "openai" for r in offered[2:]) and len(offered) == 4
    # grok ends its chain, so only category alternates follow it.
    assert names(alternates(registry.failover, registry, registry.resolve("grok"), "reasoning")) == [
        "gemini-3-pro-preview", "gpt-5.2"]


def test_colon_chains_keep_colon_named_models_whole(tmp_path: Path) -> None:
    registry = registry_with(tmp_path, "gpt-5:qwen2.5-coder:32b:grok-4")
    offered = alternates(registry.failover, registry, registry.resolve("gpt-5"), "balanced")
    assert names(offered) == ["qwen2.5-coder:32b", "grok-4"]


def test_alternates_skip_models_the_request_does_not_suit_and_names_nobody_configured(tmp_path: Path) -> None:
    registry = registry_with(tmp_path, "flash>anthropic/claude-x>deepseek-chat>qwen2.5-coder:32b>gpt-5")
    offered = alternates(registry.failover, registry, registry.resolve("flash"), "balanced",
                         accept=lambda r: r.spec.supports_images)
    assert names(offered) == ["gpt-5"]


def spec(window: int = 100_000) -> ModelSpec:
    return ModelSpec(model_name="m", context_window=window, max_output_tokens=1000)


@pytest.mark.parametrize(("error", "moves_on"), [
    (RetryableError("HTTP 503"), True),
    (RateLimitedError("slow down", retry_after=3), True),
    (ProviderTimeoutError("no answer"), True),
    (EmptyResponseError("nothing"), True),
    (AuthError("key refused"), True),
    (BadRequestError("bad parameter"), False),
    (ContentBlockedError("safety"), False),
])
def test_which_faults_are_worth_another_model(error: ProviderError, moves_on: bool) -> None:
    assert worth_another_model(error, spec(), spec()) is moves_on


def test_a_prompt_too_long_moves_only_to_a_larger_context_window() -> None:
    too_long = ContextTooLongError("too long")
    assert worth_another_model(too_long, spec(100_000), spec(200_000))
    assert not worth_another_model(too_long, spec(100_000), spec(100_000))


# ---- through the server (in-memory fake models: custom 'alpha' 64K, openai 'beta' 200K) ---------

async def thread_turns(h: Any, thread_id: str) -> list[dict[str, Any]]:
    import json

    body = await h.ok("threads", action="export", continuation_id=thread_id)
    turns: list[dict[str, Any]] = json.loads(body["content"])["turns"]
    return turns


async def test_a_model_that_keeps_failing_is_replaced_by_its_chain_successor_and_both_are_recorded(
    harness_factory: Any,
) -> None:
    h = await harness_factory({"QUORUM_FAILOVER": "beta>alpha", **QUICK})
    h.fakes["openai"].queue(RetryableError("HTTP 503", provider="openai", model="beta"),
                            RetryableError("HTTP 503", provider="openai", model="beta"))
    body = await h.ok("chat", prompt="keep going", model="beta")

    meta = body["metadata"]
    assert (meta["model_used"], meta["provider_used"], meta["attempts"]) == ("alpha", "custom", 3)
    assert meta["failover"] == [{"model": "beta", "provider": "openai", "error": "transient: HTTP 503"}]
    assert body["content"].startswith("[alpha]")
    turns = await thread_turns(h, body["continuation_offer"]["continuation_id"])
    assert [(t["role"], t["model"]) for t in turns] == [("user", ""), ("assistant", "alpha")]
    assert turns[1]["metadata"]["failover"] == meta["failover"]


async def test_category_failover_takes_the_best_model_of_another_provider(harness_factory: Any) -> None:
    h = await harness_factory({"QUORUM_FAILOVER": "category", **QUICK})
    h.fakes["openai"].queue(AuthError("key refused", provider="openai", model="beta"))
    body = await h.ok("chat", prompt="hello", model="beta")
    assert body["metadata"]["model_used"] == "alpha"
    assert len(h.fakes["openai"].calls) == 1  # refused keys are not retried, only failed over


@pytest.mark.parametrize("error", [BadRequestError("unsupported parameter"), ContentBlockedError("safety filter")])
async def test_a_bad_request_or_a_content_block_is_reported_not_failed_over(
    harness_factory: Any, error: ProviderError,
) -> None:
    h = await harness_factory({"QUORUM_FAILOVER": "beta>alpha; category", **QUICK})
    h.fakes["openai"].queue(error)
    body = await h.fail("chat", prompt="hello", model="beta")
    assert body["metadata"]["error_kind"] == "provider_error" and error.message in body["content"]
    assert "failover" not in body["metadata"] and h.fakes["custom"].calls == []


async def test_a_prompt_too_long_fails_over_only_to_a_larger_window(harness_factory: Any) -> None:
    h = await harness_factory({"QUORUM_FAILOVER": "beta>alpha; alpha>beta", **QUICK})
    h.fakes["openai"].queue(ContextTooLongError("too long", provider="openai", model="beta"))
    h.fakes["custom"].queue(ContextTooLongError("too long", provider="custom", model="alpha"))
    refused = await h.fail("chat", prompt="big", model="beta")
    assert h.fakes["custom"].calls == [] and "context_too_long" in refused["content"]
    answered = await h.ok("chat", prompt="big", model="alpha")
    assert answered["metadata"]["model_used"] == "beta"


async def test_when_every_model_fails_the_error_lists_them_and_nothing_is_recorded(harness_factory: Any) -> None:
    h = await harness_factory({"QUORUM_FAILOVER": "beta>alpha", **QUICK})
    h.fakes["openai"].queue(*(RetryableError("HTTP 502", provider="openai", model="beta") for _ in range(2)))
    h.fakes["custom"].queue(*(RateLimitedError("429", provider="custom", model="alpha") for _ in range(2)))
    body = await h.fail("chat", prompt="anyone?", model="beta")

    meta = body["metadata"]
    assert meta["error_kind"] == "provider_error" and meta["retryable"] is True and meta["attempts"] == 4
    assert [f["model"] for f in meta["failover"]] == ["beta", "alpha"]
    assert "openai/beta (transient); custom/alpha (rate_limited)" in body["content"]
    listed = await h.ok("threads")
    assert listed["metadata"]["count"] == 0


async def test_without_a_failover_setting_a_failing_model_is_reported_and_no_other_is_tried(
    harness_factory: Any,
) -> None:
    h = await harness_factory(QUICK)
    h.fakes["openai"].queue(*(RetryableError("HTTP 500", provider="openai", model="beta") for _ in range(2)))
    body = await h.fail("chat", prompt="hello", model="beta")
    assert body["metadata"]["model"] == "beta" and "failover" not in body["metadata"]
    assert h.fakes["custom"].calls == []


async def test_consensus_perspectives_report_their_own_failure_instead_of_failing_over(harness_factory: Any) -> None:
    h = await harness_factory({"QUORUM_FAILOVER": "beta>alpha", **QUICK})
    h.fakes["openai"].queue(*(RetryableError("HTTP 503", provider="openai", model="beta") for _ in range(2)))
    body = await h.ok("consensus", step="Ship it?", models=[{"model": "beta", "stance": "for"},
                                                               {"model": "alpha", "stance": "against"}])
    assert len(h.fakes["custom"].calls) == 1  # alpha answered once, for its own stance only
    statuses = {m["model"]: m["status"] for m in body["metadata"]["models"]}
    assert statuses == {"beta": "error", "alpha": "ok"}


# ---- through the real SDKs ---------------------------------------------------------------------

def wires_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return environment(tmp_path / "home", GEMINI_API_KEY=KEY, GEMINI_BASE_URL=url, OPENAI_API_KEY=KEY,
                       OPENAI_BASE_URL=f"{url}/v1", DEEPSEEK_API_KEY=KEY, DEEPSEEK_BASE_URL=f"{url}/v1", **extra)


async def test_a_gemini_call_that_hangs_past_the_timeout_fails_over_to_openai(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.script(ReplySpec(model="gemini-2.5-flash", hang=True))
    env = wires_env(fake_server.url, tmp_path, QUORUM_FAILOVER="flash>gpt5", QUORUM_PROVIDER_TIMEOUT_S="1",
                    QUORUM_MAX_RETRIES="0")
    async with quorum(env, tmp_path) as q:
        answer = await q.ok("chat", prompt="are you there?", model="flash")

    assert answer.metadata["model_used"] == "gpt-5" and answer.metadata["provider_used"] == "openai"
    assert answer.metadata["failover"][0]["model"] == "gemini-2.5-flash"
    assert answer.metadata["failover"][0]["error"].startswith("timeout:")
    hung = fake_server.wait_for_requests(2, timeout=5, finished=True)[0]
    assert hung.kind == "gemini.generate" and hung.outcome == "client went away"


async def test_a_request_with_images_fails_over_only_to_models_that_see_images(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.script(*(ReplySpec(model="gemini-2.5-flash", status=503) for _ in range(2)))
    data_url = "data:image/png;base64,iVBORw0KGgo="
    env = wires_env(fake_server.url, tmp_path, QUORUM_FAILOVER="flash>deepseek>gpt5", **QUICK)
    async with quorum(env, tmp_path) as q:
        answer = await q.ok("chat", prompt="what is this?", model="flash", images=[data_url])
    assert answer.metadata["model_used"] == "gpt-5"
    assert [r.kind for r in fake_server.generation_requests()] == ["gemini.generate"] * 2 + ["openai.chat"]


# ---- the one call providers offer (call_model with a prepare callback) --------------------------

def request_for(route: Any, text: str) -> GenerateRequest:
    return GenerateRequest(model=route.spec.model_name, system_prompt="", messages=(Message("user", text),))


async def failing_first(harness_factory: Any, chain: str, provider: str, model: str) -> Any:
    """A harness whose `model` fails twice (every try, at QUICK's one retry) before anything else answers."""
    h = await harness_factory({"QUORUM_FAILOVER": chain, **QUICK})
    h.fakes[provider].queue(*(RetryableError("HTTP 503", provider=provider, model=model) for _ in range(2)))
    return h


async def test_call_model_prepares_each_model_it_tries_and_returns_what_was_prepared_for_the_one_that_answered(
    harness_factory: Any,
) -> None:
    h = await failing_first(harness_factory, "alpha>beta", "custom", "alpha")
    prepared: list[str] = []

    def prepare(route: Any) -> tuple[str, GenerateRequest]:
        prepared.append(route.spec.model_name)
        text = f"sized for {route.spec.context_window}"
        return text, request_for(route, text)

    registry = h.services.registry
    answered = await call_model(registry.resolve("alpha"), prepare, registry=registry, settings=h.services.settings,
                                fail_over_within="balanced")
    assert prepared == ["alpha", "beta"]
    assert (answered.route.spec.model_name, answered.prepared, answered.attempts) == ("beta", "sized for 200000", 3)
    assert [(hop.model, hop.kind) for hop in answered.hops] == [("alpha", "transient")]
    assert h.fakes["openai"].calls[-1].messages[0].content == "sized for 200000"


async def test_call_model_records_a_model_the_request_does_not_fit_and_reports_every_model_tried(
    harness_factory: Any,
) -> None:
    h = await failing_first(harness_factory, "beta>alpha", "openai", "beta")

    def prepare(route: Any) -> tuple[None, GenerateRequest]:
        if route.spec.model_name == "alpha":
            raise Unsuitable("the prompt does not fit alpha's window")
        return None, request_for(route, "hi")

    registry = h.services.registry
    with pytest.raises(CallFailed) as failed:
        await call_model(registry.resolve("beta"), prepare, registry=registry, settings=h.services.settings,
                         fail_over_within="balanced")
    assert [(hop.model, hop.kind) for hop in failed.value.hops] == [("beta", "transient"), ("alpha", "unsuitable")]
    assert failed.value.attempts == 2 and h.fakes["custom"].calls == []
