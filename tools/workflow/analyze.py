"""analyze: architecture, performance, security or quality analysis of a codebase, step by step."""

from __future__ import annotations

from typing import Literal

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields
from tools.workflow.spec import Guidance, WorkflowSpec


class AnalyzeRequest(InvestigationFields):
    analysis_type: Literal["architecture", "performance", "security", "quality", "general"] | None = None
    output_format: Literal["summary", "detailed", "actionable"] | None = None


GUIDANCE = Guidance(
    first=(
        "Map the code under analysis: entry points, main modules, how data moves between them, external dependencies.",
        "Read the central files rather than skimming names; note the patterns and conventions in use.",
        "Decide which questions the analysis must answer and which files matter most.",
    ),
    early=(
        "Follow the main flows end to end and note where responsibilities blur or couple tightly.",
        "Look at the hot paths and the data sizes they handle; note anything that grows badly.",
        "Record concrete observations with file:line in findings, not impressions.",
    ),
    middle=(
        "Check each suspected weakness against the code: is it real, how often does it bite, what does it cost?",
        "Note strengths worth keeping as well as problems.",
        "Rank what you found by impact and effort; record issues_found with severities.",
    ),
    late=(
        "Make sure relevant_files covers the code behind every important finding.",
        "Check that the ranking would hold up for someone who maintains this code.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Act on the expert's top priorities first; treat every recommendation as a proposal to check against the code.",
)

SPEC = WorkflowSpec(
    name="analyze",
    description="Step-by-step code analysis (architecture, performance, quality); an expert model reviews it.",
    request_model=AnalyzeRequest,
    category="balanced",
    activity="analysis",
    guidance=GUIDANCE,
    expert_brief=(
        "Give a rigorous analysis of the code for the requested analysis_type (general when unset), shaped by "
        "output_format (summary: short; detailed: full reasoning; actionable: concrete next steps). Validate the "
        "agent's findings, add what it missed, and rank everything by impact. Answer with the JSON object "
        "described in your instructions."
    ),
)


class AnalyzeTool(WorkflowTool):
    spec = SPEC
