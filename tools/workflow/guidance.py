"""What the agent must do before its next step: actions by tool, step and confidence, and the next-call text."""

from __future__ import annotations

from typing import Any

from tools.workflow.spec import Run, WorkflowSpec
from tools.workflow.state import aggregate


def band_of(spec: WorkflowSpec, confidence: str | None) -> str:
    return spec.bands.get(confidence or "", "early")


def required_actions(spec: WorkflowSpec, request: Any, run: Run, extra: tuple[str, ...] = ()) -> list[str]:
    """The spec's actions for this point of the investigation, plus reminders the run's state calls for."""
    first_step = len(run.steps) == 1 and request.step_number == 1
    band = band_of(spec, getattr(request, "confidence", None))
    actions = list(spec.guidance.first if first_step else spec.guidance.for_band(band))  # type: ignore[arg-type]
    actions.extend(extra)
    if not spec.self_contained and band != "early" and not aggregate(run)["relevant_files"]:
        actions.append(
            "List the files that matter in relevant_files (absolute paths): the expert model sees only those files."
        )
    if request.step_number >= request.total_steps:
        actions.append(
            f"You are at step {request.step_number} of total_steps={request.total_steps}: raise total_steps if more "
            "work remains, otherwise make the next call the final one."
        )
    return actions


def _done_word(spec: WorkflowSpec) -> str:
    return " or ".join(f"'{c}'" for c in sorted(spec.skip_expert_when))


def next_steps(spec: WorkflowSpec, request: Any) -> str:
    """The instruction for the next call, in words an agent follows."""
    following = request.step_number + 1
    if spec.self_contained:
        return (
            f"Think through step {following}, then call {spec.name} with step_number={following}, the continuation_id "
            "from this response, and that step in 'step'. Revise an earlier step with is_step_revision/"
            "revises_step_number; explore an alternative with is_branch_point/branch_from_step/branch_id. "
            "Set next_step_required=false on the last step to get the whole plan back."
        )
    return (
        f"Do not call {spec.name} again yet. First carry out the required actions yourself (read the code; do not "
        f"guess). Then call {spec.name} with step_number={following}, the continuation_id from this response, and "
        "the new evidence in findings (with files_checked, relevant_files, issues_found and an honest confidence). "
        "When the evidence is complete, make that call the final step (next_step_required=false): the expert model "
        f"then reviews the investigation and the relevant files, unless confidence is {_done_word(spec)} or "
        "use_assistant_model=false."
    )
