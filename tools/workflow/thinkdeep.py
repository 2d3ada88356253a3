"""thinkdeep: extended reasoning on a hard problem, checked at the end by a strong model."""

from __future__ import annotations

from pydantic import Field

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import HypothesisField, InvestigationFields, ThinkingField
from tools.workflow.spec import Guidance, WorkflowSpec


class ThinkDeepRequest(HypothesisField, ThinkingField, InvestigationFields):
    problem_context: str | None = None
    focus_areas: list[str] = Field(default_factory=list)


GUIDANCE = Guidance(
    first=(
        "State the problem precisely: what must be decided or explained, and what a good answer must satisfy.",
        "Gather the facts that constrain it: read the code, configuration and docs involved; note unknowns.",
        "Write down the obvious answer and at least one serious alternative before going deeper.",
    ),
    early=(
        "Test your current hypothesis against the code: find the fact that would make it wrong.",
        "List the assumptions you are relying on and check the riskiest one.",
        "Widen the search: edge cases, scale, failure modes, the people and systems affected.",
    ),
    middle=(
        "Compare the alternatives on the criteria that matter (correctness, cost, risk, reversibility).",
        "Look for second-order effects: what else changes if this answer is adopted?",
        "Record trade-offs and open questions in findings; update the hypothesis.",
    ),
    late=(
        "Check the conclusion once more against the strongest counter-argument.",
        "Make sure relevant_files holds the files that support the conclusion.",
        "Finish with next_step_required=false.",
    ),
    on_complete=(
        "Weigh the expert's points against your own evidence; adopt what survives scrutiny and say plainly "
        "what you are still unsure of."
    ),
)

SPEC = WorkflowSpec(
    name="thinkdeep",
    description="Step-by-step deep reasoning on a hard problem; an expert model checks the conclusion.",
    request_model=ThinkDeepRequest,
    category="reasoning",
    activity="deep_thinking",
    guidance=GUIDANCE,
    expert_brief=(
        "Challenge and extend the agent's reasoning. Test its conclusion against the evidence, name the assumptions "
        "that could break it, compare the real alternatives, and give a clear recommendation. Answer with the JSON "
        "object described in your instructions."
    ),
)


class ThinkDeepTool(WorkflowTool):
    spec = SPEC
