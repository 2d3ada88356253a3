"""Reading a repository's pending change with git, asynchronously: staged, unstaged, or against a ref."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from utils.redaction import redact_text
from utils.security import is_secret_path

GIT_TIMEOUT_S = 30.0


class GitError(Exception):
    """git failed or is missing; the message says what to do."""


async def git(cwd: Path, *args: str) -> str:
    """Run one git command under `cwd` and return its stdout; never prompts, never pages."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", "-C", str(cwd), "--literal-pathspecs", "-c", "core.quotepath=off", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH; install git to use precommit.") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT_S:.0f}s under {cwd}.") from None
    if proc.returncode != 0:
        raise GitError(err.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
    return out.decode("utf-8", "replace")


async def repo_root(path: Path) -> Path:
    return Path((await git(path, "rev-parse", "--show-toplevel")).strip())


@dataclass(frozen=True)
class ChangeSet:
    """The change under review: diffs by kind, touched files (absolute), and what was left out."""

    root: Path
    diffs: tuple[tuple[str, str], ...] = ()
    changed: tuple[str, ...] = ()  # repository-relative, tracked files with changes
    files: tuple[str, ...] = ()  # absolute paths of touched files that still exist
    untracked: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.changed and not self.untracked


def _names(output: str) -> list[str]:
    return [n for n in output.split("\0") if n]


async def collect_changes(
    path: Path, *, compare_to: str | None, staged: bool, unstaged: bool, max_chars: int, with_diff: bool = True
) -> ChangeSet:
    """The pending change under `path`; files that hold secrets are listed but never diffed."""
    root = await repo_root(path)
    scope = os.path.relpath(path, root)
    modes: list[tuple[str, list[str]]] = []
    if compare_to:
        if compare_to.startswith("-"):
            raise GitError(f"compare_to={compare_to!r} is not a git ref.")
        try:
            await git(root, "rev-parse", "--verify", "--quiet", f"{compare_to}^{{commit}}")
        except GitError as exc:
            raise GitError(f"compare_to={compare_to!r} is not a branch, tag or commit in {root}.") from exc
        modes.append((f"CHANGES AGAINST {compare_to}", [compare_to]))
    else:
        if staged:
            modes.append(("STAGED CHANGES", ["--cached"]))
        if unstaged:
            modes.append(("UNSTAGED CHANGES", []))
    diffs: list[tuple[str, str]] = []
    changed: dict[str, None] = {}
    notes: list[str] = []
    budget = max_chars
    for title, args in modes:
        names = _names(await git(root, "diff", "--name-only", "-z", *args, "--", scope))
        safe = [n for n in names if not is_secret_path(PurePosixPath(n))]
        notes.extend(f"not diffed (holds secrets): {n}" for n in names if n not in safe)
        changed.update((n, None) for n in safe)
        if not safe or not with_diff:
            continue
        text = await git(root, "diff", "--no-color", "--no-ext-diff", *args, "--", *safe)
        text = redact_text(text)
        if len(text) > budget:
            notes.append(f"{title.lower()}: diff cut at {budget:,} characters; review the rest in the files")
            text = text[:budget]
        budget -= len(text)
        diffs.append((title, text))
    untracked: list[str] = []
    if unstaged or compare_to:
        untracked = _names(await git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", scope))
        untracked = [n for n in untracked if not is_secret_path(PurePosixPath(n))]
    existing = tuple(str(root / n) for n in [*changed, *untracked] if (root / n).is_file())
    return ChangeSet(
        root=root, diffs=tuple(diffs), changed=tuple(changed), files=existing, untracked=tuple(untracked), notes=tuple(notes)
    )
