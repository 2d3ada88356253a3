"""testgen: plan tests for given code step by step; an expert model writes them with the edge cases."""

from __future__ import annotations

from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields
from tools.workflow.spec import Guidance, WorkflowSpec


class TestGenRequest(InvestigationFields):
    pass


GUIDANCE = Guidance(
    first=(
        "Read the code to test and list its public behaviour: inputs, outputs, side effects, errors raised.",
        "Find the existing tests and the test framework, fixtures and naming style they use.",
        "Note the dependencies that tests must fake or isolate.",
    ),
    early=(
        "For each behaviour, list the normal case, the boundaries (empty, one, many, max, zero, negative) and the failures.",
        "Look for paths that are easy to miss: error handling, retries, timeouts, concurrency, cleanup.",
        "Record untested risks in findings.",
    ),
    middle=(
        "Decide which cases matter most (likelihood of a bug times its cost) and drop redundant ones.",
        "Decide how each test observes the result without reaching into internals.",
        "Make sure relevant_files holds the code under test and one existing test file to imitate.",
    ),
    late=(
        "Check that the test plan is complete for the code in scope and that every case has a clear assertion.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Add the tests in the project's style, run them, and check that each one fails when the code it covers is broken.",
)

SPEC = WorkflowSpec(
    name="testgen",
    description="Plan tests step by step; an expert model writes them, edge cases included.",
    request_model=TestGenRequest,
    category="balanced",
    activity="test_analysis",
    guidance=GUIDANCE,
    expert_brief=(
        "Write the tests for the code in scope, following the agent's plan and the style of the project's "
        "existing tests: the important behaviours, boundaries and failure paths, each test small and with a "
        "clear assertion. Use the format described in your instructions."
    ),
)


class TestGenTool(WorkflowTool):
    spec = SPEC
