"""planner: steps, revisions that replace, branches kept on the thread, an outline at the end; no model."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.workflow_support import all_calls
from utils.conversations.storage.sqlite import SqliteThreadStore


@pytest.fixture
async def h(harness_factory):
    return await harness_factory()


async def plan(h, number, text, total=5, cid=None, final=False, **fields):
    args = {"step": text, "step_number": number, "total_steps": total, "next_step_required": not final, **fields}
    if cid:
        args["continuation_id"] = cid
    return await h.ok("planner", **args)


async def test_a_revision_replaces_the_step_and_branches_are_kept_in_the_outline(h):
    first = await plan(h, 1, "Inventory the Express routes")
    assert first["status"] == "pause_for_planning"
    cid = first["continuation_offer"]["continuation_id"]
    await plan(h, 2, "Rewrite all routes at once", cid=cid)
    await plan(h, 3, "Switch traffic", cid=cid)
    revised = await plan(h, 4, "Port routes one module at a time behind a flag", cid=cid,
                         is_step_revision=True, revises_step_number=2)
    assert "Rewrite all routes at once" not in revised["plan_so_far"]
    await plan(h, 5, "Run Fastify beside Express behind a proxy", cid=cid,
               is_branch_point=True, branch_from_step=2, branch_id="side-by-side")
    await plan(h, 6, "Move routes over as they pass tests", cid=cid, branch_id="side-by-side")
    final = await plan(h, 7, "Remove Express", total=7, cid=cid, final=True, findings="after a week of no errors")
    assert final["status"] == "planner_complete" and final["expert_analysis"] is None
    outline = final["content"]
    lines = outline.splitlines()
    assert lines[0] == "# Plan (6 steps, 1 branch)"
    order = [outline.index(t) for t in ("Inventory", "Port routes one module", "Run Fastify beside", "Move routes over",
                                        "Switch traffic", "Remove Express")]
    assert order == sorted(order)
    assert "Rewrite all routes at once" not in outline
    assert "(revised at step 4)" in outline and "Branch `side-by-side`" in outline
    assert "after a week of no errors" in outline
    assert all_calls(h) == []


async def test_the_plan_is_kept_on_the_thread_and_resumes_after_a_restart(harness_factory, tmp_path):
    db = tmp_path / "plans.db"
    before = await harness_factory(store=SqliteThreadStore(db, timedelta(hours=1)))
    first = await plan(before, 1, "Write the migration")
    cid = first["continuation_offer"]["continuation_id"]
    await before.services.store.close()
    after = await harness_factory(store=SqliteThreadStore(db, timedelta(hours=1)))
    final = await plan(after, 2, "Backfill the data", total=2, cid=cid, final=True)
    assert "1. Write the migration" in final["content"] and "2. Backfill the data" in final["content"]
    exported = json.loads((await after.ok("threads", action="export", continuation_id=cid))["content"])
    assert [s["step"] for s in exported["state"]["workflow:planner"]["steps"]] == ["Write the migration", "Backfill the data"]
    await after.services.store.close()


async def test_revising_a_step_that_does_not_exist_is_refused(h):
    first = await plan(h, 1, "Start")
    cid = first["continuation_offer"]["continuation_id"]
    body = await h.fail("planner", step="x", step_number=2, total_steps=3, next_step_required=True,
                        continuation_id=cid, is_step_revision=True, revises_step_number=9)
    assert "revises_step_number=9" in body["content"] and "steps: 1" in body["content"]


async def test_a_branch_needs_its_id_and_starting_step(h):
    first = await plan(h, 1, "Start")
    cid = first["continuation_offer"]["continuation_id"]
    body = await h.fail("planner", step="alt", step_number=2, total_steps=3, next_step_required=True,
                        continuation_id=cid, is_branch_point=True, branch_id="b")
    assert "branch_from_step" in body["content"]


async def test_more_steps_needed_at_the_planned_end_asks_to_raise_total_steps(h):
    first = await plan(h, 1, "Only step", total=1, more_steps_needed=True)
    assert any("Raise total_steps" in a for a in first["required_actions"])
