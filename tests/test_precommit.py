"""precommit reads the change itself with git and hands the diff and the touched files to the expert."""

from __future__ import annotations

import pytest

from tests.workflow_support import all_calls, git, isolate_git, make_repo, step


@pytest.fixture
async def h(harness_factory, monkeypatch):
    isolate_git(monkeypatch)
    return await harness_factory()


async def validate(h, repo, **fields):
    first = await step(h, "precommit", 1, 2, path=str(repo), **fields)
    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["openai"].queue('{"verdict": "ready_after_fixes", "issues": []}')
    final = await step(h, "precommit", 2, 2, final=True, cid=cid, path=str(repo), confidence="high", model="beta", **fields)
    return first, final, h.fakes["openai"].calls[-1].messages[-1].content


async def test_staged_and_unstaged_changes_and_new_files_reach_the_expert(h):
    repo = make_repo(h.workdir / "repo")
    (repo / "app.py").write_text("def total(items):\n    return sum(items) * 2  # staged-edit\n")
    git(repo, "add", "app.py")
    (repo / "README.md").write_text("# demo\nunstaged-edit\n")
    (repo / "new_module.py").write_text("NEW = 'untracked-file-content'\n")
    first, final, text = await validate(h, repo)
    assert any("app.py" in a and "README.md" in a and "new_module.py (untracked)" in a for a in first["required_actions"])
    assert "=== STAGED CHANGES ===" in text and "+    return sum(items) * 2  # staged-edit" in text
    assert "=== UNSTAGED CHANGES ===" in text and "+unstaged-edit" in text
    assert f"BEGIN FILE: {repo / 'new_module.py'}" in text and "untracked-file-content" in text
    assert f"BEGIN FILE: {repo / 'app.py'}" in text
    assert final["status"] == "precommit_complete" and final["expert_analysis"]["verdict"] == "ready_after_fixes"


async def test_include_unstaged_false_reviews_only_the_staged_change(h):
    repo = make_repo(h.workdir / "repo")
    (repo / "app.py").write_text("def total(items):\n    return 0  # staged-only\n")
    git(repo, "add", "app.py")
    (repo / "README.md").write_text("# demo\nnot-for-review\n")
    _, _, text = await validate(h, repo, include_unstaged=False)
    assert "staged-only" in text and "not-for-review" not in text and "UNSTAGED" not in text


async def test_compare_to_reviews_everything_since_that_ref(h):
    repo = make_repo(h.workdir / "repo")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "app.py").write_text("def total(items):\n    return len(items)  # committed-on-branch\n")
    git(repo, "commit", "-q", "-am", "feature work")
    _, _, text = await validate(h, repo, compare_to="main")
    assert "=== CHANGES AGAINST main ===" in text and "committed-on-branch" in text


async def test_a_path_outside_any_git_repository_is_refused_clearly(h):
    plain = h.workdir / "not_a_repo"
    plain.mkdir()
    body = await h.fail("precommit", step="check", step_number=1, total_steps=1, next_step_required=True,
                        findings="f", path=str(plain))
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert "git repository" in body["content"] and str(plain) in body["content"]
    assert (await h.ok("threads"))["metadata"]["count"] == 0


async def test_an_unknown_compare_to_ref_is_refused(h):
    repo = make_repo(h.workdir / "repo")
    body = await h.fail("precommit", step="check", step_number=1, total_steps=1, next_step_required=True,
                        findings="f", path=str(repo), compare_to="no-such-branch")
    assert "no-such-branch" in body["content"] and "not a branch, tag or commit" in body["content"]


async def test_nothing_to_commit_is_reported_and_the_expert_is_not_asked(h):
    repo = make_repo(h.workdir / "repo")
    first = await step(h, "precommit", 1, 2, path=str(repo))
    assert any("no changes" in a for a in first["required_actions"])
    body = await h.fail("precommit", step="final", step_number=2, total_steps=2, next_step_required=False,
                        findings="f", confidence="high", path=str(repo),
                        continuation_id=first["continuation_offer"]["continuation_id"])
    assert "nothing to validate" in body["content"]
    assert all_calls(h) == []


async def test_files_that_hold_secrets_are_never_diffed(h):
    repo = make_repo(h.workdir / "repo")
    (repo / ".env").write_text("OPENAI_API_KEY=sk-live-abcdefghijklmnopqrstuvwx\n")
    git(repo, "add", "-f", ".env")
    (repo / "app.py").write_text("def total(items):\n    return 1\n")
    git(repo, "add", "app.py")
    final = (await validate(h, repo))[1]
    text = h.fakes["openai"].calls[-1].messages[-1].content
    assert "sk-live" not in text and "return 1" in text
    assert any(".env" in note for note in final["metadata"]["notes"])


async def test_the_path_must_be_inside_the_allowed_roots(h):
    body = await h.fail("precommit", step="check", step_number=1, total_steps=1, next_step_required=True,
                        findings="f", path="/etc")
    assert body["metadata"]["error_kind"] == "path_refused"


async def test_a_failover_model_gets_the_diff_sized_for_its_own_window(harness_factory, monkeypatch):
    isolate_git(monkeypatch)
    from providers.errors import ContextTooLongError

    h = await harness_factory({"QUORUM_FAILOVER": "alpha>beta", "QUORUM_MAX_RETRIES": "0"})
    repo = make_repo(h.workdir / "repo")
    # ~150K characters of diff: more than alpha's (64K window) file room, within beta's (200K).
    (repo / "big.py").write_text("".join(f"line_{i:06d} = {i}\n" for i in range(9_000)) + "tail_of_the_change = 1\n")
    git(repo, "add", "big.py")
    first = await step(h, "precommit", 1, 2, path=str(repo))
    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["custom"].queue(ContextTooLongError("too long", provider="custom", model="alpha"))
    h.fakes["openai"].queue('{"verdict": "ready", "issues": []}')
    final = await step(h, "precommit", 2, 2, final=True, cid=cid, path=str(repo), confidence="high", model="alpha")
    assert final["metadata"]["model_used"] == "beta"
    asked_alpha = h.fakes["custom"].calls[-1].messages[-1].content
    asked_beta = h.fakes["openai"].calls[-1].messages[-1].content
    assert "+tail_of_the_change = 1" not in asked_alpha
    assert "+tail_of_the_change = 1" in asked_beta


@pytest.mark.parametrize("allowed", [False, True], ids=["secret files refused", "QUORUM_ALLOW_SECRET_FILES"])
async def test_a_secret_bearing_file_in_the_change_follows_the_same_policy_as_a_file_passed_by_path(
    harness_factory, monkeypatch, allowed: bool
):
    isolate_git(monkeypatch)
    h = await harness_factory({"QUORUM_ALLOW_SECRET_FILES": str(allowed).lower()})
    repo = make_repo(h.workdir / "repo")
    (repo / "deploy.env").write_text("REGION=eu-west-1-staged\n")
    (repo / "app.py").write_text("def total(items):\n    return 1\n")
    git(repo, "add", "deploy.env", "app.py")
    _, final, text = await validate(h, repo)
    assert ("eu-west-1-staged" in text) is allowed, text
    assert any("not diffed (holds secrets): deploy.env" in n for n in final["metadata"]["notes"]) is not allowed
