"""GeminiProvider drives the real google-genai SDK against the fake provider server."""

from __future__ import annotations

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
from providers.gemini import GeminiProvider
from tests.adapter_support import (
    assert_concurrent_calls_overlap, assert_fault_translated, assert_hang_times_out, assert_images_refused_before_sending,
    assert_output_cap_ran_out, assert_refused_key_is_not_echoed, assert_unreachable_is_retryable, assert_usage_read,
    imports_any, sent,
)
from tests.fakes import FakeProviderServer, ReplySpec

API_KEY = "gemini-secret-test-key"
MODEL = "gemini-fake-pro"


def spec(**overrides: Any) -> ModelSpec:
    base: dict[str, Any] = {"model_name": MODEL, "context_window": 1_048_576, "max_output_tokens": 65_536,
                            "temperature": TemperatureRule(kind="range", min=0.0, max=2.0)}
    return ModelSpec(**{**base, **overrides})


def request(text: str = "hello there", **overrides: Any) -> GenerateRequest:
    base: dict[str, Any] = {"model": MODEL, "system_prompt": "You are terse.", "messages": (Message("user", text),)}
    return GenerateRequest(**{**base, **overrides})


def field(obj: dict[str, Any], camel: str) -> Any:
    """A JSON field the SDK may spell in camelCase or snake_case (the API accepts both)."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj.get(camel, obj.get(snake))


def build(root_url: str, timeout: float) -> GeminiProvider:
    return GeminiProvider(api_key=API_KEY, base_url=root_url, models=[spec()], timeout=timeout)


@pytest.fixture
async def provider(fake_server: FakeProviderServer) -> AsyncIterator[GeminiProvider]:
    p = build(fake_server.url, 5)
    yield p
    await p.aclose()


def test_importing_the_adapter_does_not_import_the_google_sdk() -> None:
    assert imports_any("providers.gemini", "google.genai", "openai") is False


def test_the_adapter_satisfies_the_provider_protocol() -> None:
    p = GeminiProvider(api_key="k", models=[spec()])
    assert isinstance(p, Provider) and [m.model_name for m in p.models()] == [MODEL]


# ---- what is sent ------------------------------------------------------------------------------

async def test_the_system_prompt_is_a_real_system_instruction(provider, fake_server) -> None:
    history = (Message("user", "first"), Message("assistant", "answer"), Message("user", "second"))
    result = await provider.generate(request(messages=history), spec())

    rec = fake_server.last_request
    assert rec.path == f"/v1beta/models/{MODEL}:generateContent"
    assert rec.headers["x-goog-api-key"] == API_KEY
    assert field(rec.body, "systemInstruction")["parts"] == [{"text": "You are terse."}]
    assert [(c["role"], c["parts"]) for c in rec.body["contents"]] == [
        ("user", [{"text": "first"}]), ("model", [{"text": "answer"}]), ("user", [{"text": "second"}])]
    assert result.text == f"[fake:{MODEL}] reply #1 to: second"
    assert (result.provider, result.model, result.finish_reason) == ("gemini", MODEL, "stop")


async def test_the_system_prompt_is_folded_into_the_first_user_turn_when_unsupported(provider, fake_server) -> None:
    await provider.generate(request("question"), spec(supports_system_prompt=False))

    body = sent(fake_server)
    assert field(body, "systemInstruction") is None
    assert body["contents"][0]["parts"] == [{"text": "You are terse.\n\nquestion"}]


async def test_temperature_and_output_limit_go_in_the_generation_config(provider, fake_server) -> None:
    model = spec(temperature=TemperatureRule(kind="range", min=0.0, max=1.0), max_output_tokens=8_192)
    result = await provider.generate(request(temperature=1.5, max_output_tokens=50_000), model)

    config = field(sent(fake_server), "generationConfig")
    assert (config["temperature"], field(config, "maxOutputTokens")) == (1.0, 8_192)
    assert any("clamped" in n for n in result.notes) and any("50000" in n for n in result.notes)


async def test_a_model_without_temperature_gets_none_sent(provider, fake_server) -> None:
    result = await provider.generate(request(temperature=0.4), spec(temperature=TemperatureRule(kind="none")))
    assert "temperature" not in (field(sent(fake_server), "generationConfig") or {})
    assert any("dropped" in n for n in result.notes)


@pytest.mark.parametrize(("mode", "budget"), [("minimal", 164), ("low", 2621), ("medium", 10813), ("high", 21955),
                                              ("max", 32768)])
async def test_thinking_modes_become_a_share_of_the_thinking_budget(provider, fake_server, mode, budget) -> None:
    thinker = spec(thinking_style="budget", supports_thinking=True, max_thinking_tokens=32_768)
    await provider.generate(request(thinking_mode=mode), thinker)

    thinking = field(field(sent(fake_server), "generationConfig"), "thinkingConfig")
    assert field(thinking, "thinkingBudget") == budget


async def test_effort_style_gemini_models_get_a_thinking_level(provider, fake_server) -> None:
    await provider.generate(request(thinking_mode="low"), spec(thinking_style="effort", supports_thinking=True))
    thinking = field(field(sent(fake_server), "generationConfig"), "thinkingConfig")
    assert field(thinking, "thinkingLevel") == "LOW"


async def test_no_thinking_config_is_sent_without_a_thinking_mode(provider, fake_server) -> None:
    await provider.generate(request(), spec(thinking_style="budget", max_thinking_tokens=24_576))
    assert field(field(sent(fake_server), "generationConfig") or {}, "thinkingConfig") is None


async def test_images_are_sent_as_inline_bytes_with_the_last_user_turn(provider, fake_server) -> None:
    jpeg = ImageInput("image/jpeg", b"\xff\xd8 fake jpeg")
    await provider.generate(request("describe", images=(jpeg,)), spec(supports_images=True))

    parts = sent(fake_server)["contents"][-1]["parts"]
    assert parts[0] == {"text": "describe"}
    inline = field(parts[1], "inlineData")
    # The SDK encodes with the URL-safe alphabet; the API accepts either.
    decoded = base64.urlsafe_b64decode(inline["data"].replace("+", "-").replace("/", "_"))
    assert (field(inline, "mimeType"), decoded) == ("image/jpeg", jpeg.data)


async def test_images_are_refused_before_sending_when_the_model_cannot_see(provider, fake_server) -> None:
    await assert_images_refused_before_sending(provider, fake_server, request, spec())


async def test_usage_is_read_from_usage_metadata_with_thoughts_counted_as_output(provider, fake_server) -> None:
    # The fake reports 40 candidate tokens and 60 thoughts: Gemini bills both as output.
    await assert_usage_read(provider, fake_server, request(), spec(), billed_output=100)


# ---- error translation -------------------------------------------------------------------------

@pytest.mark.parametrize(("reply", "error", "status"), [
    (ReplySpec(status=500), RetryableError, 500),
    (ReplySpec(status=503), RetryableError, 503),
    (ReplySpec(status=504), ProviderTimeoutError, 504),
    (ReplySpec(status=429), RateLimitedError, 429),
    (ReplySpec(status=401), AuthError, 401),
    (ReplySpec(status=403), AuthError, 403),
    (ReplySpec(status=400, error_message="API key not valid. Please pass a valid API key."), AuthError, 400),
    (ReplySpec(status=400, error_message="The input token count (1200000) exceeds the maximum number of tokens "
                                         "allowed (1048576)."), ContextTooLongError, 400),
    (ReplySpec(status=400, error_message="Invalid value at 'generation_config.temperature'"), BadRequestError, 400),
    (ReplySpec(status=404), BadRequestError, 404),
    (ReplySpec(prompt_blocked=True), ContentBlockedError, None),
    (ReplySpec(blocked=True), ContentBlockedError, None),
    (ReplySpec(empty=True), EmptyResponseError, None),
    (ReplySpec(malformed=True), RetryableError, None),
    (ReplySpec(reset=True), RetryableError, None),
    (ReplySpec(truncate=True), RetryableError, None),
])
async def test_failures_become_project_errors_naming_provider_and_model(
    provider, fake_server, reply: ReplySpec, error: type[ProviderError], status: int | None,
) -> None:
    await assert_fault_translated(provider, fake_server, reply, error, status, ("gemini", MODEL), request(), spec())


async def test_a_rate_limit_takes_its_wait_from_retry_after_or_from_retry_info(provider, fake_server) -> None:
    retry_info = {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}
    fake_server.script(ReplySpec(status=429, headers={"Retry-After": "4"}), ReplySpec(status=429, body=retry_info),
                       ReplySpec(status=429))
    waits = []
    for _ in range(3):
        with pytest.raises(RateLimitedError) as caught:
            await provider.generate(request(), spec())
        waits.append(caught.value.retry_after)
    assert waits == [4.0, 17.0, None]


async def test_an_empty_answer_cut_by_the_output_limit_says_to_raise_it_and_is_not_retryable(provider, fake_server) -> None:
    await assert_output_cap_ran_out(provider, fake_server, "MAX_TOKENS", request(), spec())


async def test_a_refused_key_is_reported_without_echoing_it(provider, fake_server) -> None:
    await assert_refused_key_is_not_echoed(provider, fake_server, 403, API_KEY, request(), spec())


async def test_a_hang_past_the_timeout_becomes_a_timeout_error(fake_server) -> None:
    await assert_hang_times_out(build, fake_server, request(), spec())


async def test_an_unreachable_server_is_a_retryable_connection_failure() -> None:
    await assert_unreachable_is_retryable(build, request(), spec())


async def test_concurrent_calls_overlap_at_the_server(provider, fake_server) -> None:
    await assert_concurrent_calls_overlap(provider, fake_server, request, spec())
