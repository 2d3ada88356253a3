"""The step engine: state on the thread, isolation between runs, continuity across tools and restarts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from providers.errors import AuthError
from tests.workflow_support import all_calls, step
from tools.workflow.expert import parse_answer
from utils.conversations.storage.sqlite import SqliteThreadStore


@pytest.fixture
async def h(harness_factory):
    return await harness_factory({"QUORUM_RETRY_BASE_DELAY_S": "0"})


async def thread_of(h, cid):
    return json.loads((await h.ok("threads", action="export", continuation_id=cid))["content"])


async def test_a_later_step_without_continuation_id_is_refused_with_instructions(h):
    body = await h.fail("debug", step="s", step_number=2, total_steps=3, next_step_required=True, findings="f")
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert "continuation_id" in body["content"] and "step_number=1" in body["content"]
    assert (await h.ok("threads"))["metadata"]["count"] == 0


async def test_state_lives_on_the_thread_and_each_step_leaves_a_compact_turn(h):
    first = await step(h, "debug", 1, 3, hypothesis="token expiry", issues_found=[{"severity": "high", "description": "no retry"}])
    cid = first["continuation_offer"]["continuation_id"]
    await step(h, "debug", 2, 3, cid=cid, confidence="medium", files_checked=["/x/a.py"])
    data = await thread_of(h, cid)
    run = data["state"]["workflow:debug"]
    assert [s["n"] for s in run["steps"]] == [1, 2] and run["status"] == "active"
    assert run["steps"][0]["hypothesis"] == "token expiry"
    assert [t["role"] for t in data["turns"]] == ["user", "user"]
    assert "debug-finding-1" in data["turns"][0]["content"] and "Issue [high]: no retry" in data["turns"][0]["content"]


async def test_two_interleaved_runs_of_the_same_tool_share_nothing(h):
    a1 = await step(h, "debug", 1, 2, findings="alpha-evidence")
    b1 = await step(h, "debug", 1, 2, findings="bravo-evidence")
    a, b = a1["continuation_offer"]["continuation_id"], b1["continuation_offer"]["continuation_id"]
    assert a != b
    # The expert names every run whose evidence it was shown.
    h.fakes["openai"].respond = lambda request, spec: "expert saw " + " and ".join(
        run for run in ("alpha", "bravo") if f"{run}-evidence" in request.messages[-1].content)
    b2 = await step(h, "debug", 2, 2, final=True, cid=b, findings="bravo-more", confidence="high", model="beta")
    a2 = await step(h, "debug", 2, 2, final=True, cid=a, findings="alpha-more", confidence="high", model="beta")
    bravo_prompt, alpha_prompt = (c.messages[-1].content for c in h.fakes["openai"].calls)
    assert "bravo-evidence" in bravo_prompt and "bravo-more" in bravo_prompt and "alpha" not in bravo_prompt
    assert "alpha-evidence" in alpha_prompt and "alpha-more" in alpha_prompt and "bravo" not in alpha_prompt
    assert "expert saw bravo" in json.dumps(b2["expert_analysis"]) and "alpha" not in json.dumps(b2["expert_analysis"])
    assert "expert saw alpha" in json.dumps(a2["expert_analysis"]) and "bravo" not in json.dumps(a2["expert_analysis"])
    assert b2["investigation"]["steps_taken"] == a2["investigation"]["steps_taken"] == 2


async def test_debug_after_analyze_and_secaudit_on_one_thread_sees_their_findings(h):
    src = h.workdir / "auth.py"
    src.write_text("def login(user, password):\n    return True\n")
    a1 = await step(h, "analyze", 1, 2, findings="ANALYZE-coupling-in-auth", relevant_files=[str(src)])
    cid = a1["continuation_offer"]["continuation_id"]
    h.fakes["openai"].queue('{"summary": "ANALYZE-EXPERT-VERDICT"}')
    await step(h, "analyze", 2, 2, final=True, cid=cid, findings="ANALYZE-step-two", confidence="high", model="beta")
    s1 = await step(h, "secaudit", 1, 2, cid=cid, findings="SECAUDIT-login-accepts-anything")
    assert s1["continuation_offer"]["continuation_id"] == cid
    await step(h, "secaudit", 2, 2, final=True, cid=cid, findings="SECAUDIT-confirmed", confidence="certain")
    d1 = await step(h, "debug", 1, 2, cid=cid, findings="DEBUG-own-finding")
    assert d1["progress"]["steps_taken"] == 1
    await step(h, "debug", 2, 2, final=True, cid=cid, findings="DEBUG-root-cause", confidence="high", model="beta")
    text = h.fakes["openai"].calls[-1].messages[-1].content
    for marker in ("ANALYZE-coupling-in-auth", "ANALYZE-EXPERT-VERDICT", "SECAUDIT-login-accepts-anything",
                   "SECAUDIT-confirmed", "DEBUG-own-finding", "DEBUG-root-cause"):
        assert marker in text, marker
    # The current run is summarised once, not repeated from the thread's history.
    assert text.count("DEBUG-own-finding") == 1
    assert text.count("def login(user, password):") == 1
    data = await thread_of(h, cid)
    assert {"workflow:analyze", "workflow:secaudit", "workflow:debug"} <= set(data["state"])


async def test_a_workflow_continues_a_chat_thread_and_the_expert_sees_the_chat(h):
    h.fakes["openai"].queue("CHAT-ANSWER-about-sessions")
    chat = await h.ok("chat", prompt="Why do sessions drop?", model="beta")
    cid = chat["continuation_offer"]["continuation_id"]
    await step(h, "debug", 1, 1, final=True, cid=cid, confidence="high", model="beta")
    text = h.fakes["openai"].calls[-1].messages[-1].content
    assert "Why do sessions drop?" in text and "CHAT-ANSWER-about-sessions" in text


async def test_a_run_resumes_after_a_restart_from_the_sqlite_store(harness_factory, tmp_path):
    db = tmp_path / "threads.db"
    before = await harness_factory(store=SqliteThreadStore(db, timedelta(hours=1)))
    first = await step(before, "debug", 1, 3, findings="evidence-before-restart")
    cid = first["continuation_offer"]["continuation_id"]
    await before.services.store.close()

    after = await harness_factory(store=SqliteThreadStore(db, timedelta(hours=1)))
    second = await step(after, "debug", 2, 3, cid=cid, confidence="medium")
    assert second["progress"]["steps_taken"] == 2
    await step(after, "debug", 3, 3, final=True, cid=cid, confidence="high", model="beta")
    assert "evidence-before-restart" in after.fakes["openai"].calls[-1].messages[-1].content
    await after.services.store.close()


async def test_a_provider_failure_at_the_final_step_keeps_the_earlier_steps_and_can_be_retried(h):
    first = await step(h, "codereview", 1, 2)
    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["openai"].queue(AuthError("key refused", provider="openai", model="beta", status=401))
    body = await h.fail("codereview", step="final", step_number=2, total_steps=2, next_step_required=False,
                        findings="final-findings", confidence="high", continuation_id=cid, model="beta")
    assert body["metadata"]["error_kind"] == "provider_error" and "openai" in body["content"]
    data = await thread_of(h, cid)
    assert len(data["turns"]) == 1
    assert [s["n"] for s in data["state"]["workflow:codereview"]["steps"]] == [1]
    retried = await step(h, "codereview", 2, 2, final=True, cid=cid, confidence="high", model="beta")
    assert retried["status"] == "codereview_complete"
    assert len((await thread_of(h, cid))["turns"]) == 3


async def test_resending_a_step_replaces_it_and_the_steps_after_it(h):
    first = await step(h, "tracer", 1, 3, findings="old-one")
    cid = first["continuation_offer"]["continuation_id"]
    await step(h, "tracer", 2, 3, cid=cid, findings="old-two")
    redo = await step(h, "tracer", 2, 3, cid=cid, findings="new-two")
    assert redo["progress"]["steps_taken"] == 2
    steps = (await thread_of(h, cid))["state"]["workflow:tracer"]["steps"]
    assert [s["findings"] for s in steps] == ["old-one", "new-two"]


async def test_a_refused_relevant_file_fails_the_step_and_records_nothing(h):
    first = await step(h, "analyze", 1, 3)
    cid = first["continuation_offer"]["continuation_id"]
    body = await h.fail("analyze", step="s", step_number=2, total_steps=3, next_step_required=True, findings="f",
                        continuation_id=cid, relevant_files=["/etc/hostname"])
    assert body["metadata"]["error_kind"] == "path_refused" and "relevant_files" in body["content"]
    assert len((await thread_of(h, cid))["turns"]) == 1


async def test_an_oversized_step_is_refused_and_accepted_as_prompt_txt(h):
    big = "evidence " * 20_000
    body = await h.fail("debug", step=big, step_number=1, total_steps=1, next_step_required=True, findings="f")
    assert body["metadata"]["error_kind"] == "prompt_too_large" and "prompt.txt" in body["content"]
    (h.workdir / "prompt.txt").write_text(big + "END-OF-TASK")
    ok = await step(h, "debug", 1, 1, final=True, confidence="high", model="beta", step="see file",
                    relevant_files=[str(h.workdir / "prompt.txt")])
    assert ok["status"] == "debug_complete"
    assert "END-OF-TASK" in h.fakes["openai"].calls[-1].messages[-1].content


async def test_issues_are_counted_by_severity_across_steps(h):
    issue = {"severity": "high", "description": "SQL built by string concatenation", "location": "db.py:12"}
    first = await step(h, "secaudit", 1, 3, issues_found=[issue])
    cid = first["continuation_offer"]["continuation_id"]
    second = await step(h, "secaudit", 2, 3, cid=cid, issues_found=[issue, {"severity": "low", "description": "verbose errors"}])
    assert second["progress"]["issues_by_severity"] == {"high": 1, "low": 1}
    assert all_calls(h) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('Here you go:\n{"verdict": "ready"}\nThanks.', {"verdict": "ready"}),
        ("[1, 2]", [1, 2]),
        ("plain text, no json", "plain text, no json"),
        ("{not json}", "{not json}"),
        ("42", "42"),
    ],
)
def test_expert_answers_are_parsed_when_they_are_json(answer, expected):
    assert parse_answer(answer) == expected
