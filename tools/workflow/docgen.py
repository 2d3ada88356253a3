"""docgen: document code file by file, counting progress; refuses to finish while files remain."""

from __future__ import annotations

from pydantic import Field

from tools.base import ToolError
from tools.pipeline.context import RequestContext
from tools.workflow.engine import WorkflowTool
from tools.workflow.fields import InvestigationFields
from tools.workflow.spec import Guidance, Run, WorkflowSpec


class DocGenRequest(InvestigationFields):
    document_complexity: bool | None = None
    document_flow: bool | None = None
    update_existing: bool | None = None
    comments_on_complex_logic: bool | None = None
    num_files_documented: int | None = Field(None, ge=0)
    total_files_to_document: int | None = Field(None, ge=0)


async def check(request: DocGenRequest, ctx: RequestContext, run: Run) -> tuple[str, ...]:
    """The counters are the agent's own: the run cannot end while they say files remain."""
    done = run.params.get("num_files_documented", 0)
    total = run.params.get("total_files_to_document", 0)
    if done > total:
        raise ToolError(
            "invalid_arguments",
            f"num_files_documented={done} is more than total_files_to_document={total}; correct the counters.",
        )
    remaining = total - done
    if not request.next_step_required and remaining:
        raise ToolError(
            "invalid_arguments",
            f"docgen cannot complete: {done} of {total} files are documented, {remaining} remain. Document the "
            f"remaining files, then call docgen again with step_number={request.step_number}, next_step_required=false "
            "and num_files_documented updated (or call with next_step_required=true to keep going step by step).",
        )
    if request.step_number == 1 and not total:
        return ("Count the files to document and set total_files_to_document (and num_files_documented=0).",)
    return (f"Files documented: {done} of {total}; {remaining} remain. Document the next file fully before moving on.",)


GUIDANCE = Guidance(
    first=(
        "List every file in scope that needs documentation and read the first one in full.",
        "Note the documentation style already used (docstring format, comment style) and follow it.",
    ),
    early=(
        "Document the current file completely: module, classes, public functions (purpose, parameters, returns, errors).",
        "Where asked, note complexity (Big-O) and call flow; comment complex logic inline, briefly.",
        "Fix existing docs that are wrong (update_existing) rather than adding beside them.",
    ),
    middle=(
        "Move to the next file only when the current one is complete; update num_files_documented.",
        "Check that what you wrote matches what the code actually does, including edge cases.",
    ),
    late=(
        "Check the counters: num_files_documented must equal total_files_to_document before the final step.",
        "Make sure relevant_files holds the documented files so the expert can check them.",
        "Finish with next_step_required=false.",
    ),
    on_complete="Apply the expert's corrections where the documentation disagrees with the code.",
)

SPEC = WorkflowSpec(
    name="docgen",
    description="Document code file by file, counting progress; an expert model checks the docs.",
    request_model=DocGenRequest,
    category="balanced",
    activity="documentation",
    guidance=GUIDANCE,
    check=check,
    expert_brief=(
        "Check the documentation in the embedded files against the code: wrong or misleading statements, missing "
        "parameters, errors or side effects, complexity or flow notes that are inaccurate (when requested), and "
        "complex logic left unexplained. Answer with the JSON object described in your instructions."
    ),
)


class DocGenTool(WorkflowTool):
    spec = SPEC
