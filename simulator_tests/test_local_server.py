"""A spawned server pointed at a local model server learns what it serves, with its window, at the first call."""

from __future__ import annotations

import json

from simulator_tests.conftest import Lab


async def test_a_spawned_server_learns_the_local_models_window_and_sends_an_answer_cap_that_fits(lab: Lab) -> None:
    lab.fake.control.configure(models=["tiny-local"], flavour="vllm", windows={"tiny-local": 8192})
    async with lab.session(lab.env(CUSTOM_MODEL_NAME="")) as quorum:
        before = json.loads((await quorum.ok("version")).content)["local_server"]["discovery"]
        answer = await quorum.ok("chat", prompt="hello")
        listed = await quorum.ok("listmodels")
    assert before.startswith("not yet")
    assert answer.metadata["model_used"] == "tiny-local"
    [call] = lab.generations()
    assert call["body"]["model"] == "tiny-local" and 0 < call["body"]["max_tokens"] <= 2048
    assert "context 8,192 (window: vLLM max_model_len)" in listed.content
    listings = [r for r in lab.fake.control.requests() if r["kind"] == "openai.models"]
    assert len(listings) == 1
