"""precommit: validate a pending change before commit; reads the git diff itself under `path`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from pydantic import Field

from tools.base import ToolError
from tools.pipeline.context import RequestContext
from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields, SeverityFilter
from tools.workflow.gitdiff import ChangeSet, GitError, collect_changes
from tools.workflow.spec import ExpertInput, Guidance, Run, WorkflowSpec, internal_validation

_LISTED_FILES = 30
# The diff is read once, up to the file room of the largest windows (a 1M-token model's ~450K tokens at 3
# characters a token), then cut to each model's own room when its prompt is built (ExpertInput.within), so
# a failover model gets a diff sized for it rather than for the model asked first.
_DIFF_CEILING_CHARS = 1_500_000


class PrecommitRequest(InvestigationFields):
    path: str | None = Field(None, description="Git repository directory")
    compare_to: str | None = Field(None, description="Git ref to diff against")
    include_staged: bool | None = None
    include_unstaged: bool | None = None
    precommit_type: Literal["external", "internal"] | None = Field(None, description="internal: no expert")
    focus_on: str | None = None
    severity_filter: SeverityFilter | None = None


async def _changes(request: PrecommitRequest, ctx: RequestContext, *, with_diff: bool) -> ChangeSet:
    raw = request.path or request.working_directory_absolute_path
    if not raw:
        raise ToolError("invalid_arguments", "precommit needs 'path': the absolute path of the git repository to check.")
    path = await asyncio.to_thread(ctx.policy.check_directory, raw, "path")
    try:
        return await collect_changes(
            Path(path),
            policy=ctx.policy,
            compare_to=request.compare_to,
            staged=request.include_staged is not False,
            unstaged=request.include_unstaged is not False,
            max_chars=_DIFF_CEILING_CHARS,
            with_diff=with_diff,
        )
    except GitError as exc:
        raise ToolError(
            "invalid_arguments",
            f"precommit could not read the change under '{raw}': {str(exc).rstrip('.')}. Pass as 'path' a directory inside a git "
            "repository (and a valid compare_to, if any).",
        ) from exc


def _scope(request: PrecommitRequest) -> str:
    if request.compare_to:
        return f"against {request.compare_to}"
    kinds = [k for k, on in (("staged", request.include_staged), ("unstaged", request.include_unstaged)) if on is not False]
    return " and ".join(kinds) or "no kinds (include_staged and include_unstaged are both false)"


async def check(request: PrecommitRequest, ctx: RequestContext, run: Run) -> tuple[str, ...]:
    """Every intermediate step: the path must be a repository. Step 1 also lists what changed.

    The final step reads the change with its diff in `prepare`, which refuses the same bad paths: git runs once.
    """
    if not request.next_step_required:
        return ()
    changes = await _changes(request, ctx, with_diff=False)
    if changes.empty:
        return (f"git reports no changes ({_scope(request)}) under {changes.root}: check path, compare_to and include_*.",)
    if request.step_number != 1:
        return ()
    names = [*changes.changed, *(f"{n} (untracked)" for n in changes.untracked)]
    listed = ", ".join(names[:_LISTED_FILES]) + (f" and {len(names) - _LISTED_FILES} more" if len(names) > _LISTED_FILES else "")
    return (f"Review each changed file ({_scope(request)}, {len(names)} in all): {listed}.",)


async def prepare(request: PrecommitRequest, ctx: RequestContext, run: Run) -> ExpertInput:
    changes = await _changes(request, ctx, with_diff=True)
    if changes.empty:
        raise ToolError(
            "invalid_arguments",
            f"There is nothing to validate: git reports no changes ({_scope(request)}) under {changes.root}. "
            "Stage the change, set include_unstaged, or pass compare_to.",
        )
    sections = [(title, text) for title, text in changes.diffs]
    if changes.untracked:
        sections.append(("UNTRACKED FILES (new, embedded above when they fit)", "\n".join(changes.untracked)))
    return ExpertInput(sections=tuple(sections), files=changes.files, notes=changes.notes, fit_to_model=True)


GUIDANCE = Guidance(
    first=(
        "Read the full diff (git diff --cached / git diff, or against compare_to) and every changed file around it.",
        "Work out what the change is meant to do and check it does that, including edge cases.",
        "Look for leftovers: debug prints, commented-out code, secrets, TODOs, unrelated edits.",
    ),
    early=(
        "Check callers and users of everything the change modifies: signatures, behaviour, data formats.",
        "Check that tests cover the change and that they would fail without it.",
        "Record problems in issues_found with severity and location.",
    ),
    middle=(
        "Check security-sensitive parts of the change: input handling, auth, secrets, dependencies.",
        "Check docs, configuration and migrations that the change should update.",
        "Re-check each issue you recorded: real, and correctly rated?",
    ),
    late=(
        "Make sure relevant_files includes the changed files and anything the change affects.",
        "Decide whether the change is ready to commit and what must be fixed first.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Fix every blocking issue before committing; then run the tests and commit.",
)

SPEC = WorkflowSpec(
    name="precommit",
    description="Validate pending git changes before a commit (reads the diff); an expert model reviews them.",
    request_model=PrecommitRequest,
    category="balanced",
    activity="precommit_analysis",
    guidance=GUIDANCE,
    skip_expert=internal_validation("precommit_type", "validation"),
    check=check,
    prepare_expert_input=prepare,
    expert_brief=(
        "Validate this change before it is committed. Review the diff and the changed files above: correctness, "
        "regressions for callers, security, missing tests or docs, leftovers. Follow focus_on when given and "
        "report only issues at or above severity_filter when it is set. Decide whether it is ready to commit. "
        "Answer with the JSON object described in your instructions."
    ),
)


class PrecommitTool(WorkflowTool):
    spec = SPEC
