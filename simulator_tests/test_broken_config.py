"""A spawned server with a broken catalogue and a malformed setting starts, answers, and says what to fix."""

from __future__ import annotations

import json

from simulator_tests.conftest import Lab


async def test_a_broken_catalogue_and_a_bad_env_value_do_not_stop_the_spawned_server(lab: Lab) -> None:
    catalogue = lab.home.parent / "openai_models.json"
    catalogue.write_text('{"models": [\n  {"model_name": "lost-model", "context_window": 1000\n]}\n')
    env = lab.env(OPENAI_API_KEY="sim-test-key-0123456789", OPENAI_BASE_URL=f"{lab.fake.url}/v1",
                  OPENAI_MODELS_CONFIG_PATH=str(catalogue), CONVERSATION_TIMEOUT_HOURS="abc")
    async with lab.session(env) as quorum:
        listed = await quorum.ok("listmodels")
        version = json.loads((await quorum.ok("version")).content)
        refused = await quorum.fail("chat", "unknown_model", prompt="hi", model="lost-model")
        answered = await quorum.ok("chat", prompt="the local model still answers")

    problems = {p["source"]: p for p in version["config_problems"]}
    assert set(problems) == {"CONVERSATION_TIMEOUT_HOURS", str(catalogue)}
    assert problems[str(catalogue)]["where"].startswith("line 3")
    assert version["limits"]["conversation_timeout_hours"] == 24.0
    assert f"{catalogue} (line 3" in listed.content and "CONVERSATION_TIMEOUT_HOURS" in listed.content
    assert str(catalogue) in refused.content and "correct the JSON" in refused.content
    assert answered.metadata["model_used"] == "gpt-fake"
