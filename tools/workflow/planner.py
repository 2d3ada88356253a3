"""planner: sequential planning with revisions and branches, kept on the thread; never calls a model."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from tools.base import ToolError
from tools.pipeline.context import RequestContext
from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import StepProtocol
from tools.workflow.run import Run, StepRecord
from tools.workflow.spec import Guidance, WorkflowSpec


class PlannerRequest(StepProtocol):
    findings: str | None = Field(None, description="Notes for this step")
    is_step_revision: bool | None = None
    revises_step_number: int | None = Field(None, ge=1)
    is_branch_point: bool | None = None
    branch_from_step: int | None = Field(None, ge=1)
    branch_id: str | None = None
    more_steps_needed: bool | None = None


def _bad(message: str) -> ToolError:
    return ToolError("invalid_arguments", message)


def _numbers(steps: Sequence[StepRecord]) -> str:
    return ", ".join(str(s.n) + (f" ({s.branch})" if s.branch else "") for s in steps) or "none yet"


def record_step(run: Run, record: StepRecord, request: PlannerRequest) -> Run:
    """A revision replaces the step it revises; a branch step is kept under its branch; others join the main line."""
    steps = list(run.steps)
    branches = dict(run.branches)
    entry = StepRecord(n=record.n, step=record.step, findings=record.findings)
    if request.is_step_revision:
        target = request.revises_step_number
        if target is None:
            raise _bad("is_step_revision=true needs revises_step_number: the number of the step this one replaces.")
        same_branch = [i for i, s in enumerate(steps) if s.n == target and s.branch == request.branch_id]
        anywhere = [i for i, s in enumerate(steps) if s.n == target]
        found = same_branch or anywhere
        if not found:
            raise _bad(f"revises_step_number={target} is not a step of this plan (steps: {_numbers(steps)}).")
        old = steps[found[0]]
        steps[found[0]] = old.model_copy(
            update={"step": entry.step, "findings": entry.findings or old.findings, "revised_in": request.step_number}
        )
        return run.model_copy(update={"status": "active", "steps": tuple(steps), "branches": branches})
    branch = request.branch_id
    if request.is_branch_point or (branch and branch not in branches):
        if not branch or request.branch_from_step is None:
            raise _bad("A branch needs branch_id (a short name) and branch_from_step (the step it starts from).")
        if not any(s.n == request.branch_from_step for s in steps):
            raise _bad(f"branch_from_step={request.branch_from_step} is not a step of this plan (steps: {_numbers(steps)}).")
        branches.setdefault(branch, request.branch_from_step)
    if branch:
        entry = entry.model_copy(update={"branch": branch})
    steps = [s for s in steps if not (s.n == entry.n and s.branch == entry.branch)]
    steps.append(entry)
    steps.sort(key=lambda s: s.n)
    return run.model_copy(update={"status": "active", "steps": tuple(steps), "branches": branches})


def _render(steps: Sequence[StepRecord], branches: dict[str, int], branch: str | None, depth: int) -> list[str]:
    pad = "   " * depth
    lines: list[str] = []
    for s in (s for s in steps if s.branch == branch):
        mark = f" *(revised at step {s.revised_in})*" if s.revised_in else ""
        lines.append(f"{pad}{s.n}. {s.step.strip()}{mark}")
        if s.findings:
            lines.append(f"{pad}   - notes: {s.findings.strip()}")
        for name, start in branches.items():
            if start == s.n and name != branch:
                lines.append(f"{pad}   - **Branch `{name}`** (alternative from step {start}):")
                lines.extend(_render(steps, branches, name, depth + 2))
    return lines


def outline(run: Run) -> str:
    """The plan as a readable outline: main steps in order, each branch under the step it starts from."""
    steps, branches = run.steps, run.branches
    counts = [f"{len(steps)} step{'s' if len(steps) != 1 else ''}"]
    if branches:
        counts.append(f"{len(branches)} branch{'es' if len(branches) != 1 else ''}")
    head = f"# Plan ({', '.join(counts)})"
    return "\n".join([head, "", *_render(steps, branches, None, 0)])


async def check(request: PlannerRequest, ctx: RequestContext, run: Run) -> tuple[str, ...]:
    if request.more_steps_needed and request.step_number >= request.total_steps:
        return ("Raise total_steps to cover the steps still needed.",)
    return ()


GUIDANCE = Guidance(
    first=(
        "State the goal, the constraints and what 'done' looks like; the first step should set the scope.",
        "Sketch the main stages before detailing any of them.",
    ),
    early=(
        "Detail the next step: what is done, by whom or what, what it needs, and how to tell it worked.",
        "If an earlier step now looks wrong, revise it (is_step_revision, revises_step_number) instead of working around it.",
        "If there is a real alternative worth keeping, branch (is_branch_point, branch_from_step, branch_id).",
    ),
    middle=(),
    late=(),
    on_complete="Present the plan to the user and confirm it before acting on it.",
)

SPEC = WorkflowSpec(
    name="planner",
    description="Plan step by step with revisions and branches; returns an outline. No model call.",
    request_model=PlannerRequest,
    category=None,
    activity="planning",
    guidance=GUIDANCE,
    self_contained=True,
    record_step=record_step,
    render_result=outline,
    check=check,
)


class PlannerTool(WorkflowTool):
    spec = SPEC
