"""refactor: find refactoring opportunities step by step; an expert model ranks them into a plan."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.pipeline.context import RequestContext
from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields
from tools.workflow.spec import ExpertInput, Guidance, Run, WorkflowSpec


class RefactorRequest(InvestigationFields):
    confidence: Literal["exploring", "incomplete", "partial", "complete"] | None = None  # type: ignore[assignment]
    refactor_type: Literal["codesmells", "decompose", "modernize", "organization"] | None = None
    focus_areas: list[str] = Field(default_factory=list)
    style_guide_examples: list[str] = Field(default_factory=list, description="Absolute paths to imitate")


async def prepare(request: RefactorRequest, ctx: RequestContext, run: Run) -> ExpertInput:
    """The style examples are embedded beside the code so suggestions match the house style."""
    return ExpertInput(files=tuple(run.params.get("style_guide_examples", [])))


GUIDANCE = Guidance(
    first=(
        "Read the code in scope and note its size, structure and the responsibilities of each part.",
        "Find the tests that protect it: a refactoring without tests needs them first.",
        "Note the style the codebase already follows (style_guide_examples, if given).",
    ),
    early=(
        "codesmells: look for duplication, long functions, deep nesting, unclear names, dead code.",
        "decompose: find files, classes and functions doing several jobs and where they would split.",
        "modernize / organization: note outdated idioms and misplaced code. Record each opportunity in issues_found.",
    ),
    middle=(
        "For each opportunity, check the callers it affects and how risky the change is.",
        "Order the opportunities: high value and low risk first; note the ones that depend on others.",
        "Drop suggestions that only move code around without making it clearer.",
    ),
    late=(
        "Make sure relevant_files holds the code behind each opportunity.",
        "Set confidence to 'complete' only if the analysis needs no expert review.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Refactor in small steps in the order given, running the tests after each; do not mix behaviour changes in.",
)

SPEC = WorkflowSpec(
    name="refactor",
    description="Step-by-step refactoring analysis; an expert model ranks the opportunities.",
    request_model=RefactorRequest,
    category="balanced",
    activity="refactoring_analysis",
    guidance=GUIDANCE,
    skip_expert_when=frozenset({"complete"}),
    bands={"exploring": "early", "incomplete": "early", "partial": "middle", "complete": "late"},
    prepare_expert_input=prepare,
    expert_brief=(
        "Propose the refactorings that most improve this code for the refactor_type requested (codesmells when "
        "unset) and the focus_areas given, in the style of the examples when embedded. Validate the agent's "
        "opportunities, add missed ones, and order them into a safe plan. Answer with the JSON object described "
        "in your instructions."
    ),
)


class RefactorTool(WorkflowTool):
    spec = SPEC
