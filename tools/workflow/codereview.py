"""codereview: a step-by-step code review whose findings an expert model validates and ranks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields, SeverityFilter
from tools.workflow.spec import Guidance, WorkflowSpec, internal_validation


class CodeReviewRequest(InvestigationFields):
    review_type: Literal["full", "security", "performance", "quick"] | None = None
    review_validation_type: Literal["external", "internal"] | None = Field(None, description="internal: no expert")
    focus_on: str | None = None
    standards: str | None = None
    severity_filter: SeverityFilter | None = None


GUIDANCE = Guidance(
    first=(
        "Read the code under review in full and work out what it is meant to do (tests, callers, docs).",
        "Note the conventions of the codebase so the review judges the code by them.",
        "List the areas to check: correctness, error handling, security, performance, readability, tests.",
    ),
    early=(
        "Check correctness first: edge cases, error paths, concurrency, resource cleanup.",
        "Check inputs that cross a trust boundary: validation, injection, authorisation, secrets.",
        "Record each problem in issues_found with a severity and a file:line location.",
    ),
    middle=(
        "Check performance where it matters (loops over data, I/O, allocations) and the quality of the tests.",
        "Re-read the places you flagged: is each issue real, and is the severity fair?",
        "Note what is done well, so fixes do not undo it.",
    ),
    late=(
        "Make sure every issue has a location and a concrete fix in mind.",
        "Make sure relevant_files holds the reviewed files.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Fix critical and high issues first; verify each reported issue in the code before changing it.",
)


SPEC = WorkflowSpec(
    name="codereview",
    description="Step-by-step code review; an expert model validates and ranks the issues.",
    request_model=CodeReviewRequest,
    category="balanced",
    activity="code_review",
    guidance=GUIDANCE,
    skip_expert=internal_validation("review_validation_type", "review"),
    expert_brief=(
        "Review the embedded code as a senior reviewer, for the requested review_type (full when unset), "
        "following focus_on and standards when given. Confirm or reject each issue the agent reported, add the "
        "ones it missed, and report only issues at or above severity_filter when it is set. Answer with the "
        "JSON object described in your instructions."
    ),
)


class CodeReviewTool(WorkflowTool):
    spec = SPEC
