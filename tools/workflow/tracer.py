"""tracer: trace execution flow or dependencies of a function, class or module, step by step."""

from __future__ import annotations

from typing import Literal

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields
from tools.workflow.spec import Guidance, WorkflowSpec


class TracerRequest(InvestigationFields):
    trace_mode: Literal["precision", "dependencies", "ask"] | None = None
    target_description: str | None = None


GUIDANCE = Guidance(
    first=(
        "If trace_mode is 'ask' or unset, ask the user whether they want execution flow (precision) or "
        "dependencies traced, and use that mode from step 2.",
        "Locate the target precisely: file, class, function, and how it is reached.",
        "Read the target in full before following anything out of it.",
    ),
    early=(
        "precision: follow each call the target makes, in order, with the conditions that choose each branch.",
        "dependencies: list what the target uses (imports, calls, data) and what uses it (callers, subclasses, config).",
        "Record each hop as file:line in relevant_context.",
    ),
    middle=(
        "Follow the paths you have not yet traced: error branches, callbacks, dynamic dispatch, async hand-offs.",
        "Note side effects on the way: I/O, shared state, caches, events.",
        "Mark where the trace leaves the codebase (libraries, services).",
    ),
    late=(
        "Check that the trace is complete for the target and that every hop is backed by code you read.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Use the trace as a map; re-read the code at each hop before relying on it for a change.",
)

SPEC = WorkflowSpec(
    name="tracer",
    description="Trace execution flow or dependencies step by step; an expert model checks the trace.",
    request_model=TracerRequest,
    category="balanced",
    activity="tracing",
    guidance=GUIDANCE,
    expert_brief=(
        "Check and complete the agent's trace of the target (target_description when given) in the trace_mode "
        "requested (precision: execution flow; dependencies: what it uses and what uses it). Correct wrong hops, "
        "fill gaps, and point out side effects and risky paths. Answer with the JSON object described in your "
        "instructions."
    ),
)


class TracerTool(WorkflowTool):
    spec = SPEC
