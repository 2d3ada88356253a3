"""OpenAICompatibleProvider drives the real openai SDK against the fake provider server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from providers.base import GenerateRequest, ImageInput, Message, Provider
from providers.catalogue import ModelSpec, TemperatureRule
from providers.errors import (
    AuthError, BadRequestError, ContentBlockedError, ContextTooLongError, EmptyResponseError, ProviderError,
    ProviderTimeoutError, RateLimitedError, RetryableError,
)
from providers.openai_compat import AzureSettings, OpenAICompatibleProvider, retry_after_seconds
from tests.adapter_support import (
    assert_concurrent_calls_overlap, assert_fault_translated, assert_hang_times_out, assert_images_refused_before_sending,
    assert_output_cap_ran_out, assert_refused_key_is_not_echoed, assert_unreachable_is_retryable, assert_usage_read,
    imports_any, sent,
)
from tests.fakes import FakeProviderServer, ReplySpec

API_KEY = "sk-secret-test-key"


def spec(**overrides: Any) -> ModelSpec:
    base: dict[str, Any] = {"model_name": "gpt-fake", "context_window": 128_000, "max_output_tokens": 16_000}
    return ModelSpec(**{**base, **overrides})


def request(text: str = "hello there", **overrides: Any) -> GenerateRequest:
    base: dict[str, Any] = {"model": "gpt-fake", "system_prompt": "You are terse.", "messages": (Message("user", text),)}
    return GenerateRequest(**{**base, **overrides})


def build(root_url: str, timeout: float) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider("openai", base_url=f"{root_url}/v1", api_key=API_KEY, models=[spec()],
                                    timeout=timeout)


@pytest.fixture
async def provider(fake_server: FakeProviderServer) -> AsyncIterator[OpenAICompatibleProvider]:
    p = build(fake_server.url, 5)
    yield p
    await p.aclose()


def test_importing_the_adapter_does_not_import_the_openai_sdk() -> None:
    assert imports_any("providers.openai_compat", "openai") is False


def test_the_adapter_satisfies_the_provider_protocol(fake_server) -> None:
    p = OpenAICompatibleProvider("openai", base_url=fake_server.openai_url, models=[spec()])
    assert isinstance(p, Provider) and [m.model_name for m in p.models()] == ["gpt-fake"]


async def test_concurrent_warm_ups_build_one_client_that_generate_then_uses(provider, fake_server) -> None:
    await asyncio.gather(*(provider.warm_up() for _ in range(5)))
    client = provider._client
    assert client is not None
    await provider.generate(request(), spec())
    assert provider._client is client


# ---- what is sent ------------------------------------------------------------------------------

async def test_the_system_prompt_goes_first_as_a_system_message(provider, fake_server) -> None:
    history = (Message("user", "first"), Message("assistant", "answer"), Message("user", "second"))
    result = await provider.generate(request(messages=history), spec())

    assert sent(fake_server)["messages"] == [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"}, {"role": "user", "content": "second"}]
    assert result.text == "[fake:gpt-fake] reply #1 to: second"
    assert (result.provider, result.model, result.finish_reason) == ("openai", "gpt-fake", "stop")


async def test_the_system_prompt_is_folded_into_the_first_user_message_when_unsupported(provider, fake_server) -> None:
    history = (Message("user", "first"), Message("assistant", "answer"), Message("user", "second"))
    await provider.generate(request(messages=history), spec(supports_system_prompt=False))

    messages = sent(fake_server)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "You are terse.\n\nfirst" and messages[2]["content"] == "second"


@pytest.mark.parametrize(("rule", "asked", "wire", "noted"), [
    (TemperatureRule(kind="range", min=0.0, max=1.0), 1.7, 1.0, "clamped"),
    (TemperatureRule(kind="range", min=0.0, max=2.0), 0.3, 0.3, None),
    (TemperatureRule(kind="none"), 0.5, None, "dropped"),
    (TemperatureRule(kind="fixed", value=1.0), 0.2, 1.0, "replaced"),
])
async def test_temperature_follows_the_models_rule_and_notes_any_change(
    provider, fake_server, rule: TemperatureRule, asked: float, wire: float | None, noted: str | None,
) -> None:
    result = await provider.generate(request(temperature=asked), spec(temperature=rule))

    assert sent(fake_server).get("temperature") == wire
    temperature_notes = [n for n in result.notes if "temperature" in n]
    if noted is None:
        assert temperature_notes == []
    else:
        assert len(temperature_notes) == 1 and noted in temperature_notes[0]


@pytest.mark.parametrize(("mode", "effort"), [("minimal", "minimal"), ("low", "low"), ("medium", "medium"),
                                              ("high", "high"), ("max", "high")])
async def test_reasoning_models_get_an_effort_and_max_completion_tokens(
    provider, fake_server, mode: str, effort: str,
) -> None:
    reasoning = spec(thinking_style="effort", supports_thinking=True)
    await provider.generate(request(thinking_mode=mode, max_output_tokens=4000), reasoning)

    body = sent(fake_server)
    assert body["reasoning_effort"] == effort
    assert body["max_completion_tokens"] == 4000 and "max_tokens" not in body


async def test_other_models_get_max_tokens_and_a_note_instead_of_a_thinking_mode(provider, fake_server) -> None:
    result = await provider.generate(request(thinking_mode="high", max_output_tokens=300), spec())

    body = sent(fake_server)
    assert body["max_tokens"] == 300 and "max_completion_tokens" not in body and "reasoning_effort" not in body
    assert any("thinking mode 'high' not applied" in n for n in result.notes)


async def test_no_output_limit_is_sent_unless_asked_and_an_excess_is_capped(provider, fake_server) -> None:
    await provider.generate(request(), spec())
    assert "max_tokens" not in sent(fake_server)

    result = await provider.generate(request(max_output_tokens=99_999), spec(max_output_tokens=8_000))
    assert sent(fake_server)["max_tokens"] == 8_000
    assert any("99999" in n and "8000" in n for n in result.notes)


async def test_images_ride_on_the_last_user_message_as_data_urls(provider, fake_server) -> None:
    png = ImageInput("image/png", b"\x89PNG fake bytes")
    await provider.generate(request("look", images=(png,)), spec(supports_images=True))

    content = sent(fake_server)["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "look"}
    assert content[1] == {"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(png.data).decode()}}


async def test_images_are_refused_before_sending_when_the_model_cannot_see(provider, fake_server) -> None:
    await assert_images_refused_before_sending(provider, fake_server, request, spec())


async def test_usage_numbers_are_read_from_the_reply(provider, fake_server) -> None:
    # The fake reports 40 visible tokens and 60 of reasoning: completion_tokens carries both (100).
    await assert_usage_read(provider, fake_server, request(), spec(), billed_output=100)


async def test_the_responses_api_is_used_when_the_catalogue_says_so(provider, fake_server) -> None:
    fake_server.script(ReplySpec(text="via responses", prompt_tokens=10, completion_tokens=5, reasoning_tokens=3))
    model = spec(use_responses_api=True, thinking_style="effort")
    result = await provider.generate(request(thinking_mode="max", max_output_tokens=900), model)

    rec = fake_server.last_request
    assert rec.path == "/v1/responses"
    assert rec.body["instructions"] == "You are terse."
    assert rec.body["input"] == [{"role": "user", "content": "hello there"}]
    assert rec.body["reasoning"] == {"effort": "high"} and rec.body["max_output_tokens"] == 900
    assert result.text == "via responses" and result.finish_reason == "stop"
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.reasoning_tokens) == (10, 8, 3)


async def test_azure_calls_go_to_the_deployment_with_api_version_and_api_key(fake_server) -> None:
    azure = OpenAICompatibleProvider("azure", base_url=fake_server.url, api_key="az-key", models=[spec()],
                                     azure=AzureSettings("2024-10-21", {"gpt-fake": "team-deployment"}))
    try:
        await azure.generate(request(), spec())
    finally:
        await azure.aclose()
    rec = fake_server.last_request
    assert rec.path == "/openai/deployments/team-deployment/chat/completions"
    assert rec.query == {"api-version": "2024-10-21"} and rec.headers["api-key"] == "az-key"


async def test_azure_falls_back_to_the_deployment_named_in_the_catalogue_entry(fake_server) -> None:
    azure = OpenAICompatibleProvider("azure", base_url=fake_server.url, api_key="az-key",
                                     azure=AzureSettings("2024-10-21"))
    try:
        await azure.generate(request(), spec(deployment="catalogue-deployment"))
    finally:
        await azure.aclose()
    assert fake_server.last_request.path == "/openai/deployments/catalogue-deployment/chat/completions"


async def test_vendor_headers_are_sent_and_a_keyless_local_server_gets_a_placeholder(fake_server) -> None:
    local = OpenAICompatibleProvider("openrouter", base_url=f"{fake_server.url}/api/v1", api_key="",
                                     default_headers={"HTTP-Referer": "https://quorum.dev", "X-Title": "Quorum"})
    try:
        await local.generate(request(), spec())
    finally:
        await local.aclose()
    rec = fake_server.last_request
    assert rec.path == "/api/v1/chat/completions"
    assert (rec.headers["http-referer"], rec.headers["x-title"]) == ("https://quorum.dev", "Quorum")
    assert rec.headers["authorization"] == "Bearer not-needed"


# ---- error translation -------------------------------------------------------------------------

@pytest.mark.parametrize(("reply", "error", "status"), [
    (ReplySpec(status=500), RetryableError, 500),
    (ReplySpec(status=502), RetryableError, 502),
    (ReplySpec(status=503), RetryableError, 503),
    (ReplySpec(status=504), ProviderTimeoutError, 504),
    (ReplySpec(status=429), RateLimitedError, 429),
    (ReplySpec(status=401), AuthError, 401),
    (ReplySpec(status=403), AuthError, 403),
    (ReplySpec(status=429, error_code="insufficient_quota", error_message="You exceeded your quota"), AuthError, 429),
    (ReplySpec(status=400, error_code="context_length_exceeded",
               error_message="This model's maximum context length is 8192 tokens."), ContextTooLongError, 400),
    (ReplySpec(status=400, error_message="Please reduce the length of the messages."), ContextTooLongError, 400),
    (ReplySpec(status=400, error_message="Unsupported parameter: 'temperature'."), BadRequestError, 400),
    (ReplySpec(status=404), BadRequestError, 404),
    (ReplySpec(prompt_blocked=True), ContentBlockedError, 400),
    (ReplySpec(blocked=True), ContentBlockedError, None),
    (ReplySpec(empty=True), EmptyResponseError, None),
    (ReplySpec(malformed=True), RetryableError, None),
    (ReplySpec(reset=True), RetryableError, None),
    (ReplySpec(truncate=True), RetryableError, None),
])
async def test_failures_become_project_errors_naming_provider_and_model(
    provider, fake_server, reply: ReplySpec, error: type[ProviderError], status: int | None,
) -> None:
    await assert_fault_translated(provider, fake_server, reply, error, status, ("openai", "gpt-fake"), request(), spec())


async def test_a_rate_limit_carries_the_retry_after_seconds(provider, fake_server) -> None:
    fake_server.script(ReplySpec(status=429, headers={"Retry-After": "7"}), ReplySpec(status=429))
    with pytest.raises(RateLimitedError) as with_header:
        await provider.generate(request(), spec())
    with pytest.raises(RateLimitedError) as without_header:
        await provider.generate(request(), spec())
    assert with_header.value.retry_after == 7.0 and "wait 7s" in str(with_header.value)
    assert without_header.value.retry_after is None and without_header.value.retryable


def test_retry_after_reads_milliseconds_seconds_and_http_dates() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert retry_after_seconds({"Retry-After": "12"}) == 12.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, now=1445412500.0) == 10.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None and retry_after_seconds({}) is None


async def test_an_empty_answer_cut_by_the_output_limit_says_to_raise_it_and_is_not_retryable(provider, fake_server) -> None:
    await assert_output_cap_ran_out(provider, fake_server, "length", request(), spec())


async def test_a_refused_key_is_reported_without_echoing_it(provider, fake_server) -> None:
    await assert_refused_key_is_not_echoed(provider, fake_server, 401, API_KEY, request(), spec())


async def test_a_hang_past_the_timeout_becomes_a_timeout_error(fake_server) -> None:
    await assert_hang_times_out(build, fake_server, request(), spec())


@pytest.mark.parametrize("reply", [ReplySpec(blocked=True), ReplySpec(empty=True)])
async def test_the_responses_api_reports_blocks_and_empty_answers_too(provider, fake_server, reply) -> None:
    fake_server.script(reply)
    with pytest.raises((ContentBlockedError, EmptyResponseError)) as caught:
        await provider.generate(request(), spec(use_responses_api=True))
    assert type(caught.value) is (ContentBlockedError if reply.blocked else EmptyResponseError)
    assert fake_server.last_request.path == "/v1/responses"


async def test_an_unreachable_server_is_a_retryable_connection_failure() -> None:
    await assert_unreachable_is_retryable(build, request(), spec())


async def test_concurrent_calls_overlap_at_the_server(provider, fake_server) -> None:
    await assert_concurrent_calls_overlap(provider, fake_server, request, spec())
