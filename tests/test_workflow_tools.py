"""Every workflow tool through a real MCP client: pauses without a model, then one expert call with the evidence."""

from __future__ import annotations

import json

import pytest

from tests.workflow_support import (
    MODEL_TOOLS,
    PAUSE,
    all_calls,
    done_confidence,
    isolate_git,
    prompt_file,
    step,
    tool_fields,
)
from tools.pipeline.listing import tools_list_weight
from tools.workflow import workflow_tools


@pytest.fixture
async def h(harness_factory, monkeypatch):
    isolate_git(monkeypatch)
    return await harness_factory({"QUORUM_RETRY_BASE_DELAY_S": "0"})


@pytest.mark.parametrize("tool", MODEL_TOOLS)
async def test_two_pauses_then_the_expert_gets_the_files_and_every_step(h, tool):
    code = h.workdir / "module.py"
    code.write_text("def charge(amount):\n    return amount * RATE  # marker-in-file\n")
    extra = tool_fields(tool, h)
    first = await step(h, tool, 1, 3, relevant_files=[str(code)], model="beta", **extra)
    assert first["status"] == PAUSE[tool]
    assert first["required_actions"] and first["next_step_required"] is True
    cid = first["continuation_offer"]["continuation_id"]
    second = await step(h, tool, 2, 3, cid=cid, confidence="medium" if tool != "refactor" else "partial", model="beta", **extra)
    assert second["status"] == PAUSE[tool]
    assert second["continuation_offer"]["continuation_id"] == cid
    assert second["progress"]["steps_taken"] == 2
    assert all_calls(h) == []

    h.fakes["openai"].queue('{"summary": "expert says fine", "issues": []}')
    final = await step(h, tool, 3, 3, final=True, cid=cid, confidence="high" if tool != "refactor" else "partial", model="beta", **extra)
    assert final["status"] == f"{tool}_complete"
    assert final["expert_analysis"] == {"summary": "expert says fine", "issues": []}
    assert final["investigation"]["steps_taken"] == 3
    assert len(all_calls(h)) == 1
    sent = h.fakes["openai"].calls[-1]
    assert sent.system_prompt == prompt_file(tool)
    text = sent.messages[-1].content
    assert "marker-in-file" in text
    for n in (1, 2, 3):
        assert f"{tool}-finding-{n}" in text


@pytest.mark.parametrize("tool", MODEL_TOOLS)
async def test_a_certain_agent_completes_without_the_expert(h, tool):
    extra = tool_fields(tool, h)
    first = await step(h, tool, 1, 2, **extra)
    cid = first["continuation_offer"]["continuation_id"]
    final = await step(h, tool, 2, 2, final=True, cid=cid, confidence=done_confidence(tool), **extra)
    assert final["status"] == f"{tool}_complete"
    assert final["expert_analysis"] is None
    assert done_confidence(tool) in final["expert_skipped"]
    assert final["metadata"]["model_used"] is None
    assert all_calls(h) == []


@pytest.mark.parametrize("tool", MODEL_TOOLS)
async def test_use_assistant_model_false_skips_the_expert(h, tool):
    final = await step(h, tool, 1, 1, final=True, confidence="high" if tool != "refactor" else "partial",
                       use_assistant_model=False, **tool_fields(tool, h))
    assert final["status"] == f"{tool}_complete" and final["expert_analysis"] is None
    assert "use_assistant_model" in final["expert_skipped"]
    assert all_calls(h) == []


@pytest.mark.parametrize(("tool", "field"), [("codereview", "review_validation_type"), ("precommit", "precommit_type")])
async def test_internal_validation_completes_without_the_expert(h, tool, field):
    final = await step(h, tool, 1, 1, final=True, confidence="high", **{field: "internal"}, **tool_fields(tool, h))
    assert final["expert_analysis"] is None and final["expert_skipped"].startswith(f"{field}=internal:")
    assert all_calls(h) == []


@pytest.mark.parametrize(("tool", "field"), [("codereview", "review_validation_type"), ("precommit", "precommit_type")])
async def test_external_validation_still_asks_the_expert(h, tool, field):
    h.fakes["openai"].queue('{"summary": "expert checked it", "issues": []}')
    final = await step(h, tool, 1, 1, final=True, confidence="high", model="beta", **{field: "external"},
                       **tool_fields(tool, h))
    assert final["expert_analysis"] is not None and not final.get("expert_skipped")
    assert len(all_calls(h)) == 1


async def test_docgen_refuses_to_complete_while_files_remain(h):
    first = await step(h, "docgen", 1, 2, num_files_documented=1, total_files_to_document=3)
    assert any("2 remain" in a for a in first["required_actions"])
    cid = first["continuation_offer"]["continuation_id"]
    body = await h.fail("docgen", step="done?", step_number=2, total_steps=2, next_step_required=False,
                        findings="documented two", continuation_id=cid, num_files_documented=2)
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert "2 of 3 files are documented, 1 remain" in body["content"]
    assert all_calls(h) == []
    done = await step(h, "docgen", 2, 2, final=True, cid=cid, num_files_documented=3, confidence="high")
    assert done["status"] == "docgen_complete" and len(all_calls(h)) == 1


async def test_docgen_counters_cannot_exceed_the_total(h):
    body = await h.fail("docgen", step="s", step_number=1, total_steps=2, next_step_required=True, findings="f",
                        num_files_documented=4, total_files_to_document=2)
    assert "more than total_files_to_document" in body["content"]


async def test_refactor_has_its_own_confidence_scale(h):
    body = await h.fail("refactor", step="s", step_number=1, total_steps=1, next_step_required=True, findings="f",
                        confidence="certain")
    assert body["metadata"]["error_kind"] == "invalid_arguments" and "'confidence'" in body["content"]


async def test_refactor_embeds_the_style_examples_for_the_expert(h):
    code = h.workdir / "legacy.py"
    code.write_text("def f(x):\n    return x\n")
    style = h.workdir / "house_style.py"
    style.write_text("# house-style-marker\n")
    await step(h, "refactor", 1, 1, final=True, relevant_files=[str(code)], style_guide_examples=[str(style)],
               confidence="partial", model="beta")
    assert "house-style-marker" in h.fakes["openai"].calls[-1].messages[-1].content


async def test_expert_answers_that_are_not_json_are_returned_as_text(h):
    h.fakes["openai"].queue("## Root cause\nThe cache is stale.")
    final = await step(h, "debug", 1, 1, final=True, confidence="high", model="beta")
    assert final["expert_analysis"] == "## Root cause\nThe cache is stale."


async def test_required_actions_follow_the_confidence_level(h):
    first = await step(h, "debug", 1, 3)
    cid = first["continuation_offer"]["continuation_id"]
    early = await step(h, "debug", 2, 3, cid=cid, confidence="low")
    late = await step(h, "debug", 3, 4, cid=cid, confidence="very_high", hypothesis="race in refresh")
    assert early["required_actions"] != late["required_actions"] != first["required_actions"]
    assert any("relevant_files" in a for a in late["required_actions"])
    assert late["progress"]["hypothesis"] == "race in refresh"


async def test_workflow_schemas_are_flat_and_small(h):
    async with h.connect() as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    for name in PAUSE:
        schema = listed[name].input_schema
        assert "$defs" not in json.dumps(schema) and "anyOf" not in json.dumps(schema)
        assert {"step", "step_number", "total_steps", "next_step_required"} <= set(schema["required"])
    assert "findings" not in listed["planner"].input_schema["required"]
    assert "model" not in listed["planner"].input_schema["properties"]
    weight = tools_list_weight({t.name: t for t in workflow_tools()})
    assert weight["tools"] == 11 and weight["cl100k_tokens"] < 3_800
