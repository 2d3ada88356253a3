"""debug: hypothesis-driven root-cause investigation; the expert validates the cause and the fix."""

from __future__ import annotations

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import HypothesisField, InvestigationFields
from tools.workflow.spec import Guidance, WorkflowSpec


class DebugRequest(HypothesisField, InvestigationFields):
    pass


GUIDANCE = Guidance(
    first=(
        "Pin down the failure: the exact error or wrong output, the input that triggers it, where it surfaces.",
        "Find the code path it goes through (search for the error text, the failing function and its callers) and read it.",
        "Note what you have ruled out as well as what looks suspicious.",
    ),
    early=(
        "Trace backwards from the symptom to where the state first goes wrong; read each function on the way.",
        "Check recent changes, configuration and environment differences on that path.",
        "Put one testable theory in 'hypothesis' and say what evidence would disprove it.",
    ),
    middle=(
        "Try to disprove the hypothesis: find the code, log or test result that contradicts it.",
        "Look for other callers or conditions that reach the same code and would behave differently.",
        "Check that the fix you have in mind does not break those callers.",
    ),
    late=(
        "Confirm the root cause at line level (or with a minimal reproduction), not just a plausible story.",
        "Make sure relevant_files and issues_found name exactly what the fix touches.",
        "Finish with next_step_required=false.",
    ),
    on_complete=(
        "Verify the expert's root cause against the code before changing anything; apply the smallest fix that "
        "removes the cause, then add a regression test that fails without it."
    ),
)

SPEC = WorkflowSpec(
    name="debug",
    description="Step-by-step root-cause debugging with hypotheses; an expert model validates the cause.",
    request_model=DebugRequest,
    category="reasoning",
    activity="investigation",
    guidance=GUIDANCE,
    expert_brief=(
        "Decide whether the agent's root cause is proven by the code and evidence. If it is, confirm it and give "
        "the minimal fix; if not, say what is wrong with it and give the most likely cause instead, ranked with "
        "the alternatives. Answer with the JSON object described in your instructions."
    ),
)


class DebugTool(WorkflowTool):
    spec = SPEC
