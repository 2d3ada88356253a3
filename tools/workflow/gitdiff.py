"""Reading a repository's pending change with git, asynchronously: staged, unstaged, or against a ref."""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from utils.gate.security import PathPolicy
from utils.privacy.redaction import redact_text

GIT_TIMEOUT_S = 30.0

# Settings that make git run a program named by the repository (or by whoever wrote its config):
# each is pinned to a harmless value on the command line, which outranks every config file.
_NEUTRAL_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.askPass=",
    "core.editor=false",
    "credential.helper=",
    "diff.external=",
    "protocol.allow=never",
    "core.quotepath=off",
    "core.attributesFile=/dev/null",
    "core.excludesFile=/dev/null",
)
# Options that keep `git diff` from running textconv drivers and external diff programs.
_DIFF_GUARDS = ("--no-ext-diff", "--no-textconv")
_FILTER_KEY = r"^filter\..+\.(clean|smudge|process|required)$"
# The environment git gets: nothing inherited but PATH, so no key, token or GIT_* override reaches it.
_KEPT_ENV = ("PATH",)


class GitError(Exception):
    """git failed or is missing; the message says what to do."""


def git_invocation(cwd: Path, args: tuple[str, ...], home: Path, filters: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """The one place a git command line and its environment are built: repository commands disabled."""
    config = [tuple(item.split("=", 1)) for item in _NEUTRAL_CONFIG]
    for name in filters:  # a driver with empty commands and required=false is a no-op
        config += [(f"filter.{name}.{key}", "") for key in ("clean", "smudge", "process")]
        config.append((f"filter.{name}.required", "false"))
    argv = ["git", "--no-pager", "-C", str(cwd), "--literal-pathspecs", args[0]]
    if args[0] == "diff":
        argv += _DIFF_GUARDS
    argv += args[1:]
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home),
        LANG="C",
        LC_ALL="C",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ATTR_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_PAGER="cat",
    )
    # Passed as GIT_CONFIG_KEY_n/VALUE_n rather than `-c key=value`: a driver name may itself contain '='.
    # These rank as command-line settings, above every config file the repository can write.
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for n, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    return argv, env


async def _run(argv: list[str], env: dict[str, str], what: str, cwd: Path) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH; install git to use precommit.") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitError(f"git {what} took longer than {GIT_TIMEOUT_S:.0f}s under {cwd}.") from None
    if proc.returncode != 0:
        raise GitError(err.decode("utf-8", "replace").strip() or f"git {what} failed")
    return out.decode("utf-8", "replace")


@functools.cache
def _empty_home() -> Path:
    """An empty owner-only directory git gets as HOME, made once per process and removed at exit."""
    home = tempfile.mkdtemp(prefix="quorum-git-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return Path(home)


async def filter_drivers(cwd: Path) -> tuple[str, ...]:
    """The filter drivers the repository's config declares: their names are its choice, so each is disabled by name."""
    lookup, env = git_invocation(cwd, ("config", "--name-only", "-z", "--get-regexp", _FILTER_KEY), _empty_home())
    try:
        keys = [k for k in (await _run(lookup, env, "config", cwd)).split("\0") if k]
    except GitError:
        return ()  # exit status 1: no filter configured (a real failure shows in the next command)
    return tuple(dict.fromkeys(k[len("filter."):].rsplit(".", 1)[0] for k in keys))


async def git(cwd: Path, *args: str, filters: tuple[str, ...] | None = None) -> str:
    """Run one git command under `cwd` and return its stdout; never prompts, pages or runs repository commands.

    `filters` are the repository's filter drivers when the caller has looked them up already; else they are.
    """
    if filters is None:
        filters = () if args[0] == "rev-parse" else await filter_drivers(cwd)  # rev-parse reads no file content
    argv, env = git_invocation(cwd, args, _empty_home(), filters)
    return await _run(argv, env, args[0], cwd)


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
    path: Path, *, policy: PathPolicy, compare_to: str | None, staged: bool, unstaged: bool, max_chars: int,
    with_diff: bool = True,
) -> ChangeSet:
    """The pending change under `path`; files the policy refuses as secret-bearing are listed but never diffed."""
    root = await repo_root(path)
    drivers = await filter_drivers(root)  # once for the whole change: every command below disables them
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
        names = _names(await git(root, "diff", "--name-only", "-z", *args, "--", scope, filters=drivers))
        safe = [n for n in names if not policy.refuses_secret(root / n)]
        notes.extend(f"not diffed (holds secrets): {n}" for n in names if n not in safe)
        changed.update((n, None) for n in safe)
        if not safe or not with_diff:
            continue
        text = await git(root, "diff", "--no-color", *args, "--", *safe, filters=drivers)
        if len(text) > budget:
            notes.append(f"{title.lower()}: diff cut at {budget:,} characters; review the rest in the files")
            text = text[: text.rfind("\n", 0, budget) + 1 or budget]  # at a line end, so no secret is cut in two
        # Cut first, then redacted off the event loop: only what is sent is scanned.
        text = await asyncio.to_thread(redact_text, text)
        budget = max(budget - len(text), 0)
        diffs.append((title, text))
    untracked: list[str] = []
    if unstaged or compare_to:
        untracked = _names(
            await git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", scope, filters=drivers)
        )
        untracked = [n for n in untracked if not policy.refuses_secret(root / n)]
    existing = tuple(str(root / n) for n in [*changed, *untracked] if (root / n).is_file())
    return ChangeSet(
        root=root, diffs=tuple(diffs), changed=tuple(changed), files=existing, untracked=tuple(untracked), notes=tuple(notes)
    )
