"""A repository that names a program for every command git can be made to run (for tests that prove none runs)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.workflow_support import git

HOSTILE = ("fsmonitor", "textconv", "diffdriver", "external", "clean", "smudge", "process", "hook", "pager",
           "ssh", "askpass", "credential", "envdiff")


def script(bin_dir: Path, name: str, marker: Path) -> str:
    """An executable that records that it ran (and passes its input through, as a filter would)."""
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho {name} >> '{marker}'\ncat \"$1\" 2>/dev/null || cat\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def arm(repo: Path, bin_dir: Path, marker: Path) -> Path:
    """Give `repo` config and attributes that name a program (appending to `marker`) for every hook git offers."""
    bin_dir.mkdir(exist_ok=True)
    cmd = {name: script(bin_dir, name, marker) for name in HOSTILE}
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
        script(bin_dir, hook, marker)
    return repo
