"""A file passed in this call that cannot fit the model's window is refused before any model is paid.

Files from earlier turns that no longer fit are still left out (newest kept), and then the first line of
the answer says so. Checked at the fake provider: a refused call sends it nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer
from tests.test_consensus import all_calls, build, perspectives  # noqa: F401 (build is a fixture)

# 8K window: ~1,600 tokens for the answer, ~2,000 for instructions and prompt, ~4,000 left for files.
SMALL = {"model_name": "small-8k", "context_window": 8_192, "max_output_tokens": 2_048, "intelligence_score": 5}
LARGE = {"model_name": "large-1m", "context_window": 1_000_000, "max_output_tokens": 8_192, "intelligence_score": 9}


def env(tmp_path: Path, url: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    catalogue = home / "custom.json"
    catalogue.write_text(json.dumps({"models": [SMALL, LARGE]}), encoding="utf-8")
    return environment(home, CUSTOM_API_URL=f"{url}/v1", CUSTOM_MODELS_CONFIG_PATH=str(catalogue))



def connect(tmp_path: Path, fake: FakeProviderServer) -> Any:
    """Quorum on this test's environment, connected in memory."""
    return quorum(env(tmp_path, fake.url), tmp_path)


def code(path: Path, kilobytes: int) -> Path:
    lines = [f"def handler_{i}(request, retries={i % 7}):  # step {i}\n    return compute(request, {i})\n"
             for i in range(kilobytes * 1024 // 80 + 1)]
    path.write_text("".join(lines)[: kilobytes * 1024], encoding="utf-8")
    return path


def final_step(file: Path, model: str, **extra: Any) -> dict[str, Any]:
    return {"step": "Checked the request path.", "step_number": 1, "total_steps": 1, "next_step_required": False,
            "findings": "handlers retry without backoff", "relevant_files": [str(file)], "confidence": "high",
            "model": model, **extra}


async def test_a_file_too_large_for_the_models_window_is_refused_before_any_call(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    big, small = code(tmp_path / "big.py", 20), code(tmp_path / "small.py", 1)
    async with connect(tmp_path, fake_server) as q:
        refused = await q.fail("chat", prompt="Review these.", absolute_file_paths=[str(small), str(big)],
                               model="small-8k")
    assert fake_server.generation_requests() == []
    assert refused.envelope["metadata"]["error_kind"] == "prompt_too_large"
    message = refused.content
    assert "small-8k" in message and "8,192" in message and "No model was called" in message
    assert str(big) in message and "listmodels" in message and "fewer files" in message and "excerpt" in message
    details = refused.envelope["metadata"]
    sizes = {f["path"]: f["tokens"] for f in details["files"]}
    assert set(sizes) == {str(big), str(small)} and sizes[str(big)] > details["room_tokens"] > sizes[str(small)]
    assert f"~{sizes[str(big)]:,} tokens" in message and f"~{details['room_tokens']:,} tokens" in message


# 20 KB on a 1M window; 9 KB (~3,000 tokens) on the 8K one: more than its 40 % files share, less than all the
# room a request has, so it is sent and the history yields.
@pytest.mark.parametrize(("kilobytes", "model"), [(20, "large-1m"), (9, "small-8k")])
async def test_a_file_that_fits_the_window_is_sent(
    fake_server: FakeProviderServer, tmp_path: Path, kilobytes: int, model: str,
) -> None:
    file = code(tmp_path / "file.py", kilobytes)
    async with connect(tmp_path, fake_server) as q:
        answer = await q.ok("chat", prompt="Review it.", absolute_file_paths=[str(file)], model=model)
    assert answer.metadata["prompt"]["files_embedded"] == [str(file)]
    assert len(fake_server.generation_requests()) == 1
    assert "handler_1(" in json.dumps(fake_server.last_request.body)


async def test_an_earlier_file_that_no_longer_fits_is_left_out_and_the_first_line_says_so(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    grows = code(tmp_path / "grows.py", 1)
    async with connect(tmp_path, fake_server) as q:
        first = await q.ok("chat", prompt="Look at it.", absolute_file_paths=[str(grows)], model="small-8k")
        code(grows, 20)  # the file grew past what the window can take
        second = await q.ok("chat", prompt="And now?", continuation_id=first.thread_id, model="small-8k")
    first_line = second.content.splitlines()[0]
    assert first_line.startswith("Note:") and str(grows) in first_line and "left out" in first_line
    assert [d["item"] for d in second.metadata["prompt"]["dropped"]] == [str(grows)]
    assert "handler_300(" not in json.dumps(fake_server.last_request.body)
    assert not first.content.startswith("Note:")


@pytest.mark.parametrize("tool", ["analyze", "codereview", "debug"])
async def test_a_workflow_final_step_with_relevant_files_too_large_is_refused_before_the_expert_call(
    fake_server: FakeProviderServer, tmp_path: Path, tool: str,
) -> None:
    big = code(tmp_path / "big.py", 20)
    async with connect(tmp_path, fake_server) as q:
        refused = await q.fail(tool, **final_step(big, "small-8k"))
        fits = await q.ok(tool, **final_step(big, "large-1m"))
    assert refused.envelope["metadata"]["error_kind"] == "prompt_too_large" and str(big) in refused.content
    assert [r.body["model"] for r in fake_server.generation_requests()] == ["large-1m"]
    assert fits.envelope["expert_analysis"]


async def test_an_earlier_file_dropped_at_a_workflow_final_step_is_named_on_the_first_line(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    grows, small = code(tmp_path / "grows.py", 1), code(tmp_path / "small.py", 1)
    async with connect(tmp_path, fake_server) as q:
        first = await q.ok("chat", prompt="Look.", absolute_file_paths=[str(grows)], model="small-8k")
        code(grows, 20)
        final = await q.ok("codereview", **final_step(small, "small-8k", continuation_id=first.thread_id))
    first_line = final.content.splitlines()[0]
    assert first_line.startswith("Note:") and str(grows) in first_line


async def test_in_consensus_a_model_whose_window_cannot_take_the_files_reports_that_and_is_not_called(
    build, catalogue,
) -> None:
    small = catalogue("custom_small", [
        {"model_name": "alpha", "context_window": 1_000_000, "max_output_tokens": 4_000, "intelligence_score": 8},
        {"model_name": "gamma", "context_window": 8_192, "max_output_tokens": 2_000, "intelligence_score": 9},
    ])
    h = await build(CUSTOM_MODELS_CONFIG_PATH=small)
    big = code(h.workdir / "big.py", 20)
    body = await h.ok("consensus", step="Port this?", relevant_files=[str(big)],
                      models=[{"model": "alpha", "stance": "for"}, {"model": "gamma", "stance": "against"}])
    assert [c.model for c in all_calls(h)] == ["alpha"]
    refused = perspectives(body)[("gamma", "against")]
    assert "do not fit model 'gamma'" in json.dumps(refused) and str(big) in json.dumps(refused)
    assert "This model was not called" in json.dumps(refused)
