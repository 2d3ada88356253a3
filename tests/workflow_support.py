"""Helpers for workflow tests: steps, pause statuses, and git repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any


# Each tool's pause status; the final status is always "<tool>_complete".
PAUSE = {
    "thinkdeep": "pause_for_deep_thinking",
    "debug": "pause_for_investigation",
    "analyze": "pause_for_analysis",
    "codereview": "pause_for_code_review",
    "precommit": "pause_for_precommit_analysis",
    "secaudit": "pause_for_security_audit",
    "testgen": "pause_for_test_analysis",
    "refactor": "pause_for_refactoring_analysis",
    "docgen": "pause_for_documentation",
    "tracer": "pause_for_tracing",
    "planner": "pause_for_planning",
}
MODEL_TOOLS = [name for name in PAUSE if name != "planner"]

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def isolate_git(monkeypatch: Any) -> None:
    """Run git (in the tests and in precommit) without the developer's global or system configuration."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def make_repo(root: Path) -> Path:
    """A repository with one commit of app.py and README.md."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("def total(items):\n    return sum(items)\n")
    (root / "README.md").write_text("# demo\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


def tool_fields(tool: str, h: Any) -> dict[str, Any]:
    """Fields a tool needs on every step of an ordinary run."""
    if tool == "precommit":
        repo = h.workdir / "repo"
        if not (repo / ".git").exists():
            make_repo(repo)
            (repo / "app.py").write_text("def total(items):\n    return sum(items) + 1  # precommit-change\n")
        return {"path": str(repo)}
    if tool == "docgen":
        return {"num_files_documented": 1, "total_files_to_document": 1}
    return {}


def done_confidence(tool: str) -> str:
    return "complete" if tool == "refactor" else "certain"


async def step(
    h: Any, tool: str, number: int, total: int, *, final: bool = False, cid: str | None = None, **fields: Any
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "step": f"{tool} step {number}",
        "step_number": number,
        "total_steps": total,
        "next_step_required": not final,
        "findings": f"{tool}-finding-{number}",
        **fields,
    }
    if cid:
        args["continuation_id"] = cid
    return await h.ok(tool, **args)


def all_calls(h: Any) -> list[Any]:
    return [*h.fakes["custom"].calls, *h.fakes["openai"].calls]


def prompt_file(tool: str) -> str:
    return (Path(__file__).resolve().parent.parent / "systemprompts" / f"{tool}.md").read_text()
