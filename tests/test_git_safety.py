"""git never runs a command a repository (or its config) names, and never sees the server's secrets."""

from __future__ import annotations

import os

import pytest

from tests.hostile_repo import arm, script
from tests.workflow_support import git, isolate_git, make_repo, step


@pytest.fixture
async def h(harness_factory, monkeypatch):
    isolate_git(monkeypatch)
    return await harness_factory()


async def test_precommit_on_a_hostile_repository_runs_none_of_its_commands_and_still_sees_the_diff(h, tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    repo = arm(make_repo(h.workdir / "repo"), h.workdir / "bin", marker)
    # What the server inherited must not reach git either.
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", script(h.workdir / "bin", "envdiff", marker))
    (repo / "app.py").write_text("def total(items):\n    return sum(items) * 3  # staged-edit\n")
    (repo / "README.md").write_text("# demo\nunstaged-edit\n")
    # Stage without the hostile config (the test's own git runs the filters; that is not what is tested).
    git(repo, "-c", "filter.evil.clean=cat", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "add", "app.py")
    marker.unlink(missing_ok=True)

    first = await step(h, "precommit", 1, 2, path=str(repo))
    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["openai"].queue('{"verdict": "ready", "issues": []}')
    await step(h, "precommit", 2, 2, final=True, cid=cid, path=str(repo), confidence="high", model="beta")
    text = h.fakes["openai"].calls[-1].messages[-1].content

    assert not marker.exists(), f"git ran repository commands: {marker.read_text().split()}"
    assert "+    return sum(items) * 3  # staged-edit" in text
    assert "=== UNSTAGED CHANGES ===" in text and "+unstaged-edit" in text


def test_git_gets_a_scrubbed_environment_and_an_empty_home(tmp_path, monkeypatch):
    from tools.workflow.gitdiff import git_invocation

    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret-value")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='/tmp/evil'")
    argv, env = git_invocation(tmp_path, ("diff", "--cached"), tmp_path / "home", ("a=b",))
    assert "sk-server-secret-value" not in " ".join([*argv, *env.values()])
    assert "GIT_DIR" not in env and "GIT_CONFIG_PARAMETERS" not in env
    assert env["HOME"] == str(tmp_path / "home") and env["HOME"] != os.environ.get("HOME")
    assert set(env) <= {"PATH", "HOME", "XDG_CONFIG_HOME", "LANG", "LC_ALL"} | {k for k in env if k.startswith("GIT_")}
    pairs = {env[f"GIT_CONFIG_KEY_{n}"]: env[f"GIT_CONFIG_VALUE_{n}"] for n in range(int(env["GIT_CONFIG_COUNT"]))}
    assert pairs["filter.a=b.clean"] == "" and pairs["filter.a=b.required"] == "false"
    assert pairs["core.fsmonitor"] == "false" and pairs["core.hooksPath"] == "/dev/null"
    assert "--no-textconv" in argv and "--no-ext-diff" in argv and "--no-pager" in argv
