"""Model controls end to end, from a chat call to what each SDK sends: thinking mode, temperature rules,
images, output limits and LOCALE; every adjustment is noted in the response metadata."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from providers.catalogue import ModelSpec
from providers.shaping import pick_effort
from tests.client import ToolClient
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer, RecordedRequest

KEY = "controls-test-key-0123456789"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def vendors_env(url: str) -> dict[str, str]:
    return {
        "GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": url,
        "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{url}/v1",
        "XAI_API_KEY": KEY, "XAI_BASE_URL": f"{url}/v1",
        "DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": f"{url}/v1",
        "OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": f"{url}/v1",
    }


def dig(body: Any, *path: str) -> Any:
    """A nested JSON field, each key spelled in camelCase or snake_case (the Gemini API takes both)."""
    for camel in path:
        if not isinstance(body, dict):
            return None
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
        body = body.get(camel, body.get(snake))
    return body


def sent(fake: FakeProviderServer) -> RecordedRequest:
    requests = fake.generation_requests()
    assert requests, "nothing reached the provider"
    return requests[-1]


async def chat(fake: FakeProviderServer, tmp_path: Path, *, env: dict[str, str] | None = None,
               **arguments: Any) -> tuple[dict[str, Any], RecordedRequest]:
    async with quorum(environment(tmp_path / "home", **vendors_env(fake.url), **(env or {})), tmp_path) as q:
        answer = await q.ok("chat", prompt="explain", **arguments)
    return answer.metadata, sent(fake)


# ---- thinking mode -----------------------------------------------------------------------------

@pytest.mark.parametrize(("accepted", "mode", "sent", "moved"), [
    ((), "minimal", "minimal", False),
    ((), "max", "high", False),
    (("none", "low", "medium", "high"), "minimal", "low", True),
    (("none", "low", "medium", "high", "xhigh"), "max", "xhigh", False),
    (("low", "high"), "medium", "high", True),
    (("low", "high"), "minimal", "low", True),
    (("high",), "low", "high", True),
    (("low", "medium", "high"), "high", "high", False),
])
def test_a_thinking_mode_maps_to_the_nearest_effort_the_model_accepts(
    accepted: tuple[str, ...], mode: str, sent: str, moved: bool,
) -> None:
    spec = ModelSpec.model_validate({"model_name": "m", "context_window": 1000, "max_output_tokens": 100,
                                     "thinking_style": "effort", "reasoning_efforts": accepted})
    effort, note = pick_effort(mode, spec)  # type: ignore[arg-type]
    assert effort == sent and (note is not None) is moved


@pytest.mark.parametrize(("model", "mode", "expected", "noted"), [
    ("gpt5", "high", "high", None),
    ("gpt-5.1", "minimal", "low", "sent as 'low'"),  # 5.1 has no "minimal"; ties go to more thinking
    ("gpt5.2", "max", "xhigh", None),
    ("grok-3-mini", "medium", "high", "accepts low, high"),
    ("sonnet", "low", "low", None),  # OpenRouter maps reasoning_effort onto Claude's thinking budget
])
async def test_thinking_mode_becomes_the_reasoning_effort_the_model_accepts(
    fake_server: FakeProviderServer, tmp_path: Path, model: str, mode: str, expected: str, noted: str | None,
) -> None:
    meta, rec = await chat(fake_server, tmp_path, model=model, thinking_mode=mode)
    assert rec.body["reasoning_effort"] == expected
    assert "max_completion_tokens" in rec.body and "max_tokens" not in rec.body
    thinking_notes = [n for n in meta["notes"] if "thinking mode" in n]
    assert (thinking_notes == []) if noted is None else (noted in thinking_notes[0])


async def test_a_responses_api_model_gets_its_effort_in_the_reasoning_object(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    meta, rec = await chat(fake_server, tmp_path, model="gpt-5-pro", thinking_mode="low")
    assert rec.path.endswith("/responses") and rec.body["reasoning"] == {"effort": "high"}
    assert any("sent as 'high'" in n for n in meta["notes"])


@pytest.mark.parametrize(("model", "mode", "budget"), [
    ("gemini-2.5-pro", "low", 2621),  # 8% of 32,768
    ("flash", "max", 24576),
    ("flash-lite", "minimal", 512),  # 0.5% would be 123: below the model's minimum of 512
])
async def test_gemini_budget_models_get_a_share_of_their_thinking_budget(
    fake_server: FakeProviderServer, tmp_path: Path, model: str, mode: str, budget: int,
) -> None:
    _, rec = await chat(fake_server, tmp_path, model=model, thinking_mode=mode)
    assert dig(rec.body, "generationConfig", "thinkingConfig", "thinkingBudget") == budget


async def test_gemini_3_gets_a_thinking_level_it_accepts(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    meta, rec = await chat(fake_server, tmp_path, model="pro", thinking_mode="medium")
    assert rec.path.endswith("gemini-3-pro-preview:generateContent")
    assert dig(rec.body, "generationConfig", "thinkingConfig", "thinkingLevel") == "HIGH"
    assert any("accepts low, high" in n for n in meta["notes"])


@pytest.mark.parametrize("model", ["grok-4", "deepseek-reasoner", "deepseek-chat"])
async def test_models_without_a_thinking_control_get_none_and_the_metadata_says_so(
    fake_server: FakeProviderServer, tmp_path: Path, model: str,
) -> None:
    meta, rec = await chat(fake_server, tmp_path, model=model, thinking_mode="high")
    assert "reasoning_effort" not in rec.body and "reasoning" not in rec.body
    assert any("thinking mode 'high' not applied" in n for n in meta["notes"])


# ---- temperature -------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "asked", "wire", "noted"), [
    ("gpt-5", 0.2, 1.0, "replaced by the model's fixed 1.0"),
    ("o3", 0.2, None, "dropped"),
    ("deepseek-reasoner", 0.7, None, "dropped"),
    ("gpt-4.1", 0.3, 0.3, None),
    ("grok", 0.9, 0.9, None),
])
async def test_temperature_follows_each_models_rule_and_a_change_reaches_the_metadata(
    fake_server: FakeProviderServer, tmp_path: Path, model: str, asked: float, wire: float | None, noted: str | None,
) -> None:
    meta, rec = await chat(fake_server, tmp_path, model=model, temperature=asked)
    assert rec.body.get("temperature") == wire
    temperature_notes = [n for n in meta["notes"] if "temperature" in n]
    assert (temperature_notes == []) if noted is None else (noted in temperature_notes[0])


async def test_gemini_gets_the_temperature_in_its_generation_config(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    _, rec = await chat(fake_server, tmp_path, model="flash", temperature=0.4)
    assert dig(rec.body, "generationConfig", "temperature") == 0.4


# ---- images ------------------------------------------------------------------------------------

async def test_an_image_path_reaches_gemini_as_inline_data(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    image = tmp_path / "diagram.png"
    image.write_bytes(PNG)
    _, rec = await chat(fake_server, tmp_path, model="flash", images=[str(image)])
    parts = dig(rec.body, "contents")[-1]["parts"]
    inline = [dig(p, "inlineData") for p in parts if dig(p, "inlineData")]
    assert inline and dig(inline[0], "mimeType") == "image/png"
    assert base64.b64decode(dig(inline[0], "data")) == PNG


async def test_a_data_url_image_reaches_an_openai_model_as_an_image_part(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    _, rec = await chat(fake_server, tmp_path, model="gpt5", images=[url])
    content = [m for m in rec.body["messages"] if m["role"] == "user"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": url}} in content


async def test_an_image_for_a_model_without_vision_is_refused_before_any_call(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    image = tmp_path / "diagram.png"
    image.write_bytes(PNG)
    async with quorum(environment(tmp_path / "home", **vendors_env(fake_server.url)), tmp_path) as q:
        refused = await q.fail("chat", prompt="look", model="deepseek", images=[str(image)])
    assert refused.metadata["error_kind"] == "invalid_arguments"
    assert "does not accept images" in refused.content and "deepseek-chat" in refused.content
    assert fake_server.generation_requests() == []


# ---- output limits -----------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "field", "limit"), [
    ("deepseek-chat", "max_tokens", 8192),
    ("gpt-5", "max_completion_tokens", 128_000),
    ("grok-code-fast-1", "max_tokens", 10_000),
])
async def test_the_output_cap_never_exceeds_the_models_own_limit(
    fake_server: FakeProviderServer, tmp_path: Path, model: str, field: str, limit: int,
) -> None:
    _, rec = await chat(fake_server, tmp_path, model=model)
    assert 0 < rec.body[field] <= limit


async def test_gemini_gets_its_output_cap_in_the_generation_config(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    _, rec = await chat(fake_server, tmp_path, model="flash")
    assert 0 < dig(rec.body, "generationConfig", "maxOutputTokens") <= 65_536


# ---- LOCALE ------------------------------------------------------------------------------------

async def locale_prompts(q: ToolClient, fake: FakeProviderServer) -> tuple[str, str]:
    await q.ok("chat", prompt="bonjour", model="gpt5")
    openai_system = sent(fake).body["messages"][0]["content"]
    await q.ok("chat", prompt="bonjour", model="flash")
    gemini_system = "".join(p["text"] for p in dig(sent(fake).body, "systemInstruction")["parts"])
    return openai_system, gemini_system


async def test_locale_asks_every_provider_to_answer_in_that_language(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", **vendors_env(fake_server.url), LOCALE="fr-FR")
    async with quorum(env, tmp_path) as q:
        prompts = await locale_prompts(q, fake_server)
    for system in prompts:
        assert "in the language of the locale 'fr-FR'" in system


async def test_without_locale_the_system_prompt_has_no_language_instruction(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    async with quorum(environment(tmp_path / "home", **vendors_env(fake_server.url)), tmp_path) as q:
        prompts = await locale_prompts(q, fake_server)
    for system in prompts:
        assert "locale" not in system
