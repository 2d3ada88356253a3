"""Catalogues written for PAL / Zen load as they are: every field with a meaning in Quorum is used, the rest is
named once in the log; a broken catalogue never stops the server but is reported wherever it matters."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from providers.catalogue import read_catalogue
from tests import pal_catalogues as pal
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer

KEY = "catalogue-test-key-0123456789"


def openai_env(fake: FakeProviderServer, home: Path, catalogue: str, **extra: str) -> dict[str, str]:
    return environment(home, OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.openai_url,
                       OPENAI_MODELS_CONFIG_PATH=catalogue, **extra)


def test_pal_fields_map_onto_quorums_catalogue_model(tmp_path: Path) -> None:
    openai = {m.model_name: m for m in read_catalogue("openai", Path(pal.write(tmp_path, "o.json", pal.OPENAI))).models}
    reasoner, mini, wide = openai["reasoner-pro"], openai["o-series-mini"], openai["wide-classic"]
    assert (reasoner.aliases, reasoner.context_window, reasoner.max_output_tokens) == (("rpro", "reasoner"), 400_000, 128_000)
    assert reasoner.supports_thinking and reasoner.thinking_style == "effort" and reasoner.default_effort == "high"
    assert reasoner.use_responses_api and reasoner.supports_json_mode and reasoner.supports_system_prompt
    assert (reasoner.supports_images, reasoner.max_image_size_mb, reasoner.intelligence_score) == (True, 20.0, 18)
    assert reasoner.temperature.kind == "none" and reasoner.description.startswith("a reasoning model")
    # PAL's o-series: no temperature, and max_completion_tokens (Quorum sends it to effort-style models).
    assert mini.temperature.kind == "none" and mini.thinking_style == "effort" and not mini.supports_thinking
    # PAL's range spans 0-2; an unstated output limit becomes one that fits the window.
    assert (wide.temperature.kind, wide.temperature.max) == ("range", 2.0)
    assert 0 < wide.max_output_tokens <= 8_192

    gem = read_catalogue("gemini", Path(pal.write(tmp_path, "g.json", pal.GEMINI))).models[0]
    assert (gem.thinking_style, gem.max_thinking_tokens, gem.max_image_size_mb) == ("budget", 32_768, 32.0)

    azure = {m.model_name: m for m in read_catalogue("azure", Path(pal.write(tmp_path, "a.json", pal.AZURE))).models}
    assert set(azure) == {"az-model", "az-other"}  # _example_models are examples, not models
    assert azure["az-model"].deployment == "team-deploy" and azure["az-other"].deployment == "other-deploy"
    assert azure["az-other"].aliases == ("azo", "az-two")  # PAL accepts a comma string


def test_fields_without_a_meaning_in_quorum_are_named_in_one_log_line_per_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = pal.write(tmp_path, "openai_models.json", pal.OPENAI)
    with caplog.at_level(logging.INFO, logger="providers.catalogue"):
        loaded = read_catalogue("openai", Path(path))
    lines = [r.getMessage() for r in caplog.records if path in r.getMessage()]
    assert len(lines) == 1, lines
    for field in ("allow_code_generation", "supports_function_calling", "supports_streaming"):
        assert field in lines[0]
    assert loaded.problems == [] and len(loaded.models) == 3


async def test_a_pal_openai_catalogue_drives_what_is_sent(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    catalogue = pal.write(tmp_path, "openai_models.json", pal.OPENAI)
    async with quorum(openai_env(fake_server, tmp_path / "home", catalogue), tmp_path) as q:
        await q.ok("chat", prompt="hi", model="rpro", temperature=0.2)
        await q.ok("chat", prompt="hi", model="omini", temperature=0.2)
        await q.ok("chat", prompt="hi", model="wide", temperature=0.2)
    responses = fake_server.responses_requests()[0].body
    assert responses["model"] == "reasoner-pro" and responses["reasoning"] == {"effort": "high"}
    assert "temperature" not in responses
    mini, wide = (r.body for r in fake_server.chat_requests())
    assert "temperature" not in mini and "max_completion_tokens" in mini and "max_tokens" not in mini
    assert wide["temperature"] == 0.2 and "max_tokens" in wide


async def test_a_pal_azure_catalogue_calls_the_deployment(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    env = environment(tmp_path / "home", AZURE_OPENAI_API_KEY=KEY, AZURE_OPENAI_ENDPOINT=fake_server.url,
                      AZURE_MODELS_CONFIG_PATH=pal.write(tmp_path, "azure_models.json", pal.AZURE))
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hi", model="az-two")
    assert fake_server.chat_requests()[0].path == "/openai/deployments/other-deploy/chat/completions"


async def test_zens_combined_custom_models_file_splits_between_the_local_server_and_openrouter(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    combined = pal.write(tmp_path, "custom_models.json", pal.ZEN_COMBINED)
    env = environment(tmp_path / "home", CUSTOM_API_URL=fake_server.openai_url, CUSTOM_MODELS_CONFIG_PATH=combined,
                      OPENROUTER_API_KEY=KEY, OPENROUTER_BASE_URL=fake_server.openai_url,
                      OPENROUTER_MODELS_CONFIG_PATH=combined)
    async with quorum(env, tmp_path) as q:
        local = await q.ok("chat", prompt="hi", model="homebrew")
        cloud = await q.ok("chat", prompt="hi", model="cloudy")
    assert (local.metadata["provider_used"], cloud.metadata["provider_used"]) == ("custom", "openrouter")
    registry_models = {m.model_name for m in q.services.registry.models("custom")}
    assert registry_models == {"homebrew-7b"}


# ---- broken catalogues and settings ---------------------------------------------------------------------------

BROKEN_JSON = '{\n  "models": [\n    {"model_name": "m1", "context_window": 1000,}\n  ]\n}\n'


async def test_a_catalogue_that_is_not_json_leaves_the_server_running_and_every_report_names_file_and_line(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    broken = pal.write(tmp_path, "openai_models.json", BROKEN_JSON)
    env = openai_env(fake_server, tmp_path / "home", broken, CUSTOM_API_URL=fake_server.openai_url,
                     CUSTOM_MODEL_NAME="gpt-fake")
    async with quorum(env, tmp_path) as q:
        listed = await q.ok("listmodels")
        version = json.loads((await q.ok("version")).content)
        refused = await q.fail("chat", prompt="hi", model="m1")
        working = await q.ok("chat", prompt="hi", model="gpt-fake")  # the other provider is untouched
    assert "## Configuration problems" in listed.content
    assert f"{broken} (line 3, column 49): it is not valid JSON" in listed.content
    assert version["config_problems"][0]["source"] == broken and version["config_problems"][0]["where"] == "line 3, column 49"
    assert refused.metadata["error_kind"] == "unknown_model"
    assert broken in refused.content and "line 3, column 49" in refused.content and "correct the JSON" in refused.content
    assert working.metadata["model_used"] == "gpt-fake"


async def test_an_entry_with_wrong_types_is_left_out_alone_and_a_call_for_it_names_line_and_field(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    content = {"models": [
        {"model_name": "good-one", "context_window": 100_000, "max_output_tokens": 4_000},
        {"model_name": "bad-one", "context_window": "lots", "max_output_tokens": 4_000, "supports_images": "maybe"},
    ]}
    path = pal.write(tmp_path, "openai_models.json", content)
    async with quorum(openai_env(fake_server, tmp_path / "home", path), tmp_path) as q:
        await q.ok("chat", prompt="hi", model="good-one")
        refused = await q.fail("chat", prompt="hi", model="bad-one")
        listed = await q.ok("listmodels")
    assert "`good-one`" in listed.content and "`bad-one`" not in listed.content
    for part in (path, "line 9, models[1]", "model 'bad-one' is invalid", "context_window", "'lots'",
                 "supports_images", "Quorum started without model bad-one"):
        assert part in refused.content, part


@pytest.mark.parametrize("kind", ["directory", "not utf-8", "missing", "no model list"])
async def test_an_unreadable_or_misshapen_catalogue_is_reported_with_the_fix(
    fake_server: FakeProviderServer, tmp_path: Path, kind: str,
) -> None:
    path = tmp_path / "openai_models.json"
    if kind == "directory":
        path.mkdir()
    elif kind == "not utf-8":
        path.write_bytes(b'{"models": [{"model_name": "\xff"}]}')
    elif kind == "no model list":
        path.write_text('{"models": {"model_name": "x"}}')
    expected = {"directory": "cannot be read", "not utf-8": "cannot be read", "missing": "does not exist",
                "no model list": "has no list of models"}[kind]
    async with quorum(openai_env(fake_server, tmp_path / "home", str(path)), tmp_path) as q:
        version = json.loads((await q.ok("version")).content)
        refused = await q.fail("chat", prompt="hi")
    [problem] = version["config_problems"]
    assert problem["source"] == str(path) and expected in problem["problem"] and problem["fix"]
    assert str(path) in refused.content and expected in refused.content


async def test_a_malformed_env_value_falls_back_to_its_default_and_is_reported(
    fake_server: FakeProviderServer, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    env = environment(tmp_path / "home", CUSTOM_API_URL=fake_server.openai_url, CUSTOM_MODEL_NAME="gpt-fake",
                      CONVERSATION_TIMEOUT_HOURS="abc", CUSTOM_CONTEXT_WINDOW="8k")
    with caplog.at_level(logging.ERROR, logger="providers.registry"):
        async with quorum(env, tmp_path) as q:
            version = json.loads((await q.ok("version")).content)
            listed = await q.ok("listmodels")
            await q.ok("chat", prompt="still works")
    assert version["limits"]["conversation_timeout_hours"] == 24.0
    sources = [p["source"] for p in version["config_problems"]]
    assert sources == ["CONVERSATION_TIMEOUT_HOURS", "CUSTOM_CONTEXT_WINDOW"]
    assert "'abc'" in version["config_problems"][0]["problem"] and "24.0" in version["config_problems"][0]["meanwhile"]
    assert "CONVERSATION_TIMEOUT_HOURS (from the environment): value 'abc' is not valid" in listed.content
    assert any("CONVERSATION_TIMEOUT_HOURS" in r.getMessage() for r in caplog.records)


def test_a_malformed_value_in_the_env_file_is_traced_to_it(tmp_path: Path) -> None:
    from utils.config.settings import Settings

    dotenv = tmp_path / ".env"
    dotenv.write_text("MAX_CONVERSATION_TURNS=many\nQUORUM_HTTP_PORT=eighty\n")
    settings = Settings.from_env({"QUORUM_HOME": str(tmp_path), "QUORUM_HTTP_PORT": "8000"}, dotenv=dotenv)
    assert (settings.max_conversation_turns, settings.http_port) == (50, 8000)  # the real environment still wins
    [turns] = settings.problems
    assert turns.source == "MAX_CONVERSATION_TURNS" and turns.where == "from .env" and "'many'" in turns.message


async def test_a_malformed_failover_chain_is_reported_by_version(tmp_path: Path) -> None:
    env = environment(tmp_path / "home", OPENAI_API_KEY=KEY, QUORUM_FAILOVER="gpt-5")
    async with quorum(env, tmp_path) as q:
        version = json.loads((await q.ok("version")).content)
    [problem] = version["config_problems"]
    assert problem["source"] == "QUORUM_FAILOVER" and "'gpt-5'" in problem["problem"]
    assert problem["meanwhile"] == "Until it is fixed, failover is off"
