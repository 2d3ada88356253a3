"""git never runs a command a repository (or its config) names, and never sees the server's secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.workflow_support import git, make_repo, register, step

HOSTILE = ("fsmonitor", "textconv", "diffdriver", "external", "clean", "smudge", "process", "hook", "pager",
           "ssh", "askpass", "credential", "envdiff")


def _script(bin_dir: Path, name: str, marker: Path) -> str:
    """An executable that records that it ran (and passes its input through, as a filter would)."""
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho {name} >> '{marker}'\ncat \"$1\" 2>/dev/null || cat\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def hostile_repo(root: Path, marker: Path) -> Path:
    """A repository whose config and attributes name a program for every hook git offers."""
    repo = make_repo(root / "repo")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    cmd = {name: _script(bin_dir, name, marker) for name in HOSTILE}
    (repo / ".git" / "info" / "attributes").write_text("*.py diff=evil filter=evil\n*.md filter=proc\n")
    settings = {
        "core.fsmonitor": cmd["fsmonitor"],
        "diff.evil.textconv": cmd["textconv"],
        "diff.evil.command": cmd["diffdriver"],
        "diff.external": cmd["external"],
        "filter.evil.clean": cmd["clean"],
        "filter.evil.smudge": cmd["smudge"],
        "filter.evil.required": "true",
        "filter.proc.process": cmd["process"],
        "filter.proc.required": "true",
        "core.hooksPath": str(bin_dir),
        "core.pager": cmd["pager"],
        "pager.diff": "true",
        "core.sshCommand": cmd["ssh"],
        "core.askPass": cmd["askpass"],
        "credential.helper": cmd["credential"],
    }
    for key, value in settings.items():
        git(repo, "config", key, value)
    for hook in ("post-index-change", "pre-commit", "post-checkout", "reference-transaction", "fsmonitor-watchman"):
        _script(bin_dir, hook, marker)
    return repo


@pytest.fixture
async def h(harness_factory, monkeypatch):
    register(monkeypatch)
    return await harness_factory()


async def test_precommit_on_a_hostile_repository_runs_none_of_its_commands_and_still_sees_the_diff(h, tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    repo = hostile_repo(h.workdir, marker)
    # What the server inherited must not reach git either.
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", _script(h.workdir / "bin", "envdiff", marker))
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
    assert set(env) <= {"PATH", "HOME", "LANG", "LC_ALL", "GIT_PAGER"} | {k for k in env if k.startswith("GIT_")}
    pairs = {env[f"GIT_CONFIG_KEY_{n}"]: env[f"GIT_CONFIG_VALUE_{n}"] for n in range(int(env["GIT_CONFIG_COUNT"]))}
    assert pairs["filter.a=b.clean"] == "" and pairs["filter.a=b.required"] == "false"
    assert pairs["core.fsmonitor"] == "false" and pairs["core.hooksPath"] == "/dev/null"
    assert "--no-textconv" in argv and "--no-ext-diff" in argv and "--no-pager" in argv
