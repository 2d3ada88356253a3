"""The step engine: runs any WorkflowSpec. State lives on the thread; the tool object holds only its spec.

Step 1 starts a run (and, without continuation_id, a thread). Step 2+ must carry the continuation_id from
step 1: without one the call is refused with that instruction, because a run cannot be found otherwise and
silently starting over would lose the agent's evidence. On a thread that has no run of this tool yet (a
continuation from another tool) a run starts at whatever step number arrives. Re-sending step N replaces
step N and later ones, so a failed final step can simply be retried.
"""

from __future__ import annotations

import functools
import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from tools.base import Tool, ToolError, ToolOutput
from tools.pipeline.consult import consult, exchange_turns
from tools.pipeline.context import RequestContext
from tools.pipeline.fit import dropped_note
from tools.pipeline.inputs import files_budget, load_files
from tools.workflow.expert import expert_input_text, parse_answer
from tools.workflow.guidance import next_steps, required_actions
from tools.workflow.run import Run, StepRecord
from tools.workflow.spec import ExpertInput, WorkflowSpec
from tools.workflow.state import add_step, aggregate, new_run, progress, render_step, step_record, tool_params
from utils.conversations.turns import FileRef, Turn
from utils.gate.errors import GateError
from utils.gate.files import FileContent

# Beyond this the answer goes in `content` (which the envelope spills to a file) rather than a side field.
_LONG_ANSWER_CHARS = 20_000


class WorkflowTool(Tool):
    """Adapts a WorkflowSpec to the Tool interface; a subclass only sets `spec`."""

    spec: ClassVar[WorkflowSpec]
    conversational = True
    # A step too large for the transport arrives as prompt.txt in relevant_files (the dispatcher merges it).
    prompt_field = "step"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is not None:
            cls.name = spec.name
            cls.description = spec.description
            cls.request_model = spec.request_model
            cls.category = spec.category

    async def run(self, request: Any, ctx: RequestContext) -> ToolOutput:
        return await run_step(self.spec, request, ctx)


async def run_step(spec: WorkflowSpec, request: Any, ctx: RequestContext) -> ToolOutput:
    run, notes = _open_run(spec, request, ctx)
    record = step_record(request)
    run = spec.record_step(run, record, request) if spec.record_step else add_step(run, record, tool_params(request))
    await _check_paths(ctx, record.relevant_files)
    extra_actions = await spec.check(request, ctx, run) if spec.check else ()
    meta = {"workflow": {"tool": spec.name, "run": run.run_id, "step": request.step_number}}
    if request.next_step_required:
        return _pause(spec, request, run, record, extra_actions, notes, meta)
    return await _finish(spec, request, ctx, run.model_copy(update={"status": "complete"}), record, notes, meta)


def _open_run(spec: WorkflowSpec, request: Any, ctx: RequestContext) -> tuple[Run, list[str]]:
    number = request.step_number
    if number > 1 and ctx.thread is None:
        raise ToolError(
            "invalid_arguments",
            f"step_number={number} continues the {spec.name} run, but no continuation_id was given. Pass the "
            "continuation_id from step 1's response (continuation_offer.continuation_id), or start a new run "
            "with step_number=1.",
        )
    existing = ctx.thread.state.get(spec.state_key) if ctx.thread else None
    if number == 1 or not existing:
        notes = [] if number == 1 else [f"No earlier {spec.name} steps on this thread: the run starts at step {number}."]
        return new_run(spec.name), notes
    return Run.model_validate(existing), []


async def _check_paths(ctx: RequestContext, paths: Sequence[str]) -> None:
    """Refuse bad relevant_files at the step that names them, not at the end of the run."""
    await asyncio.to_thread(ctx.policy.check_all, paths, "relevant_files")


def _step_turn(spec: WorkflowSpec, request: Any, record: StepRecord, meta: dict[str, Any]) -> Turn:
    return Turn(
        role="user",
        content=render_step(spec.name, record, request.total_steps),
        files=tuple(FileRef(path=p) for p in record.relevant_files),
        tool_name=spec.name,
        metadata=meta,
    )


def _pause(
    spec: WorkflowSpec,
    request: Any,
    run: Run,
    record: StepRecord,
    extra_actions: tuple[str, ...],
    notes: list[str],
    meta: dict[str, Any],
) -> ToolOutput:
    extra: dict[str, Any] = {
        "step_number": request.step_number,
        "total_steps": request.total_steps,
        "next_step_required": True,
        "required_actions": required_actions(spec, request, run, extra_actions),
        "progress": progress(run) if not spec.self_contained else {"steps_taken": len(run.steps)},
    }
    if spec.render_result:
        extra["plan_so_far"] = spec.render_result(run)
    return ToolOutput(
        content=next_steps(spec, request),
        status=spec.pause_status,
        metadata=_no_model(notes),
        turns=(_step_turn(spec, request, record, meta),),
        state={spec.state_key: run.stored()},
        extra=extra,
    )


def _no_model(notes: list[str]) -> dict[str, Any]:
    """Metadata of a step that called no model: it names none, which the dispatcher reports as None."""
    return {"notes": notes} if notes else {}


def _skip_reason(spec: WorkflowSpec, request: Any) -> str | None:
    if spec.self_contained:
        return f"{spec.name} is self-contained: it never calls a model."
    if getattr(request, "use_assistant_model", None) is False:
        return "use_assistant_model=false: completed without the expert model."
    confidence = getattr(request, "confidence", None)
    if confidence in spec.skip_expert_when:
        return f"confidence is '{confidence}': the agent completed the work itself, so no expert call was made."
    return spec.skip_expert(request) if spec.skip_expert else None


def _summary(run: Run) -> dict[str, Any]:
    agg = aggregate(run)
    return {"steps_taken": len(run.steps), **agg, "final_confidence": run.steps[-1].confidence}


async def _finish(
    spec: WorkflowSpec,
    request: Any,
    ctx: RequestContext,
    run: Run,
    record: StepRecord,
    notes: list[str],
    meta: dict[str, Any],
) -> ToolOutput:
    base = {"step_number": request.step_number, "total_steps": request.total_steps, "next_step_required": False}
    reason = _skip_reason(spec, request)
    if reason is not None:
        content = spec.render_result(run) if spec.render_result else (
            f"{spec.name} complete after {len(run.steps)} steps, without an expert review. {spec.guidance.on_complete}"
        )
        return ToolOutput(
            content=content,
            status=spec.complete_status,
            content_type="markdown",
            metadata=_no_model(notes),
            turns=(_step_turn(spec, request, record, meta),),
            state={spec.state_key: run.stored()},
            extra={**base, "expert_analysis": None, "expert_skipped": reason, "investigation": _summary(run)},
        )
    extra_input = await spec.prepare_expert_input(request, ctx, run) if spec.prepare_expert_input else ExpertInput()
    loaded = await load_files(ctx, aggregate(run)["relevant_files"])
    files = list(loaded.files)
    more, skipped = await _load_lenient(ctx, extra_input.files, {f.path for f in files})
    run_id = run.run_id
    fit = functools.cache(extra_input.within)  # per model: once for the prompt, again for the notes of the answer
    answer = await consult(
        ctx,
        system_prompt=Tool.system_prompt(spec.name),
        new_input=lambda allocation: expert_input_text(spec, run, fit(allocation)[0]),
        files=files,
        optional_files=more,
        thinking_mode=getattr(request, "thinking_mode", None) or ctx.settings.default_thinking_mode(spec.name),
        history_filter=lambda turn: turn.metadata.get("workflow", {}).get("run") != run_id,
    )
    user, assistant = exchange_turns(spec.name, render_step(spec.name, record, request.total_steps), answer, extra_meta=meta)
    metadata = answer.metadata()
    cuts = fit(answer.route.spec.allocation())[1]
    metadata["notes"] = [*metadata["notes"], *notes, *extra_input.notes, *cuts, *loaded.skipped, *skipped]
    analysis: Any = parse_answer(answer.text)
    content = f"{spec.name} complete after {len(run.steps)} steps; the expert's review is in expert_analysis. "
    if len(answer.text) > _LONG_ANSWER_CHARS:
        analysis, content = "The expert's answer is long: it is in 'content'.", answer.text + "\n\n---\n"
    note = dropped_note(answer.plan)
    if note:
        content = f"{note}\n\n{content}"
    return ToolOutput(
        content=content + spec.guidance.on_complete,
        status=spec.complete_status,
        content_type="markdown",
        metadata=metadata,
        turns=(user.model_copy(update={"metadata": meta}), assistant),
        state={spec.state_key: run.stored()},
        extra={**base, "expert_analysis": analysis, "investigation": _summary(run)},
    )


async def _load_lenient(ctx: RequestContext, paths: Sequence[str], have: set[str]) -> tuple[list[FileContent], list[str]]:
    """Files a spec adds (precommit's touched files): each unreadable one is skipped with a note, not fatal."""
    loaded: list[FileContent] = []
    skipped: list[str] = []
    left = files_budget(ctx)
    for path in paths:
        try:
            batch = await load_files(ctx, [path], budget=left)
        except GateError as exc:
            skipped.append(f"not embedded: {path} ({exc.kind})")
            continue
        skipped.extend(batch.skipped)
        for fc in batch.files:
            left -= fc.size
            if fc.path not in have:
                have.add(fc.path)
                loaded.append(fc)
    return loaded, skipped
