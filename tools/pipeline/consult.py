"""The one path from a tool to a model: build the budgeted prompt per model, call it, account for the answer.

Reading what a call brings (files, images, the files of earlier turns) is inputs.py's job.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from providers.base import GenerateRequest, GenerateResult, ImageInput, Message
from providers.calling import CallFailed, Unsuitable, call_model
from providers.failover import Hop
from providers.registry import Route
from tools.base import PROMPTS_DIR, ToolError
from tools.pipeline.context import RequestContext
from tools.pipeline.fit import refusal
from tools.pipeline.inputs import reread_history
from tools.pipeline.progress import heartbeat
from utils.conversations.turns import FileRef, Turn, Usage, image_refs
from utils.gate.files import FileContent
from utils.prompting.budget import Allocation
from utils.prompting.builder import FilesDoNotFitError, PromptPlan, PromptTooLargeError, build_prompt
from utils.vocabulary import ThinkingMode

@dataclass(frozen=True)
class Answer:
    """A model's reply with everything the envelope and the thread need to record."""

    text: str
    result: GenerateResult
    route: Route
    plan: PromptPlan
    cost_usd: float
    attempts: int
    notes: tuple[str, ...]
    passed: tuple[FileRef, ...] = ()
    # Models that were tried before the one that answered (QUORUM_FAILOVER).
    failover: tuple[Hop, ...] = ()

    def metadata(self) -> dict[str, Any]:
        usage = self.result.usage
        failover = {"failover": [h.as_dict() for h in self.failover]} if self.failover else {}
        return {
            "model_used": self.result.model or self.route.spec.model_name,
            "provider_used": self.result.provider or self.route.vendor.name,
            "tokens": {
                "input": usage.input_tokens,
                "output": usage.output_tokens,
                "reasoning": usage.reasoning_tokens,
                "cached": usage.cached_tokens,
            },
            "cost_usd": round(self.cost_usd, 6),
            "attempts": self.attempts,
            "notes": list(self.notes),
            "prompt": self.plan.report(),
            **failover,
        }

    def file_refs(self) -> tuple[FileRef, ...]:
        """Files to record on the user turn: those passed now, plus history files re-embedded after a change."""
        changed = tuple(
            FileRef(path=f.path, sha256=f.sha256, size=f.size) for f in self.plan.files if f.changed and f.from_history
        )
        return self.passed + changed


def with_notes(metadata: dict[str, Any], notes: Sequence[str]) -> dict[str, Any]:
    """Response metadata with extra notes (files left out, ...) after the model's own."""
    if not notes:
        return metadata
    return {**metadata, "notes": [*metadata.get("notes", []), *notes]}


def with_locale(system_prompt: str, locale: str) -> str:
    """The system prompt, plus the answer-language instruction when LOCALE is set."""
    if not locale.strip():
        return system_prompt
    return (
        f"{system_prompt.rstrip()}\n\nWrite your answer in the language of the locale '{locale.strip()}', unless the "
        "user explicitly asks for another language. Keep code, identifiers, file paths and quotations unchanged.\n"
    )


@functools.cache
def preamble() -> str:
    """The system text every consultation starts with, the same for every tool: the head of a shared prefix."""
    return (PROMPTS_DIR / "common.md").read_text(encoding="utf-8")


def _check_budget(ctx: RequestContext) -> None:
    limit = ctx.settings.max_cost_per_thread_usd
    if limit is not None and ctx.thread is not None and ctx.thread.total_cost_usd >= limit:
        raise ToolError(
            "budget_exceeded",
            f"This conversation has cost ${ctx.thread.total_cost_usd:.4f}, reaching QUORUM_MAX_COST_PER_THREAD_USD="
            f"{limit}. Start a new conversation or raise the limit.",
            thread_cost_usd=ctx.thread.total_cost_usd,
            limit_usd=limit,
        )


def _provider_failure(exc: CallFailed) -> ToolError:
    error, hops = exc.error, exc.hops
    failed = next(h for h in reversed(hops) if h.kind != "unsuitable")
    details: dict[str, Any] = {"provider": failed.provider, "model": failed.model, "retryable": error.retryable,
                               "attempts": exc.attempts}
    message = error.describe()
    if len(hops) > 1:
        tried = "; ".join(f"{h.provider}/{h.model} ({h.kind})" for h in hops)
        message = f"No model answered (failover tried, in turn: {tried}). Last failure: {message}"
        details["failover"] = [h.as_dict() for h in hops]
    return ToolError("provider_error", message, **details)


async def consult(
    ctx: RequestContext,
    *,
    system_prompt: str,
    new_input: str | Callable[[Allocation], str],
    files: Sequence[FileContent] = (),
    images: tuple[ImageInput, ...] = (),
    temperature: float | None = None,
    thinking_mode: ThinkingMode | None = None,
    route: Route | None = None,
    include_history: bool = True,
    numbered: bool = True,
    history_filter: Callable[[Turn], bool] | None = None,
    optional_files: Sequence[FileContent] = (),
) -> Answer:
    """Build the prompt for `route` (default: the request's model) and call it with retries and heartbeats.

    `system_prompt` is the tool's instructions. The request is laid out stable-first so consecutive requests of
    a thread share their prefix whatever the tool: the common preamble as system text, then the files, the
    history and the new input as the user message, then the tool's instructions as a later system message
    (joined to the preamble where the endpoint cannot take one there).

    `files` (passed in this call) must fit the model's window, else the call is refused before any model is
    paid; `optional_files` (added by a tool) and earlier files may be left out, newest kept. `new_input` may be
    a function of the model's allocation, for input sized per model (precommit's diff): a failover model
    then gets its own sizing.
    Only the request's own model fails over (QUORUM_FAILOVER); a model named through `route` was chosen
    on purpose (a consensus perspective) and reports its own failure.
    """
    chosen = route or ctx.route
    if chosen is None:
        raise ToolError("internal_error", "No model was resolved for this call.")
    _check_budget(ctx)
    settings = ctx.settings
    turns = ctx.thread.turns if (ctx.thread and include_history) else ()
    if history_filter is not None:
        turns = tuple(t for t in turns if history_filter(t))
    new_paths = {f.path for f in files} | {f.path for f in optional_files}
    history_paths = sorted({r.path for t in turns for r in t.files} - new_paths)
    history_files = await asyncio.to_thread(reread_history, ctx, history_paths) if history_paths else {}
    common = with_locale(preamble(), settings.locale)
    instructions = system_prompt
    render = ctx.services.render_cache

    def prepare(target: Route) -> tuple[PromptPlan, GenerateRequest]:
        """The prompt and request for one model, inside its own token budget."""
        spec = target.spec
        allocation = spec.allocation()
        plan = build_prompt(
            system_prompt=f"{common}\n\n{instructions}", turns=turns,
            new_input=new_input if isinstance(new_input, str) else new_input(allocation), new_files=files,
            history_files=history_files, allocation=allocation, numbered=numbered, optional_files=optional_files,
            count=lambda text: render.count(text, spec.tokenizer), render_block=render.block,
            render_history_turn=render.turn,
        )
        sections = plan.sections
        points = tuple(sum(len(s) for s in sections[: i + 1]) for i in range(len(sections) - 1))
        request = GenerateRequest(
            model=spec.model_name, system_prompt=instructions, preamble=common,
            messages=(Message("user", plan.text, cache_points=points),),
            temperature=temperature, thinking_mode=thinking_mode,
            max_output_tokens=min(spec.max_output_tokens, allocation.response_tokens), images=images,
        )
        return plan, request

    try:
        # Off the event loop: counting tokens may load an encoding (~0.4 s the first time) or count large files.
        first = await asyncio.to_thread(prepare, chosen)
    except FilesDoNotFitError as exc:
        raise refusal(exc, chosen, alone=route is None) from exc
    except PromptTooLargeError as exc:
        raise ToolError("prompt_too_large", str(exc)) from exc

    def prepare_route(target: Route) -> tuple[PromptPlan, GenerateRequest]:
        if target is chosen:
            return first
        try:
            return prepare(target)
        except PromptTooLargeError as exc:
            raise Unsuitable(str(exc)) from exc

    current = chosen

    def trying(target: Route) -> None:
        nonlocal current
        current = target

    def waiting_for() -> str:
        return f"{current.vendor.name}/{current.spec.model_name}"

    try:
        async with heartbeat(ctx.progress, settings.heartbeat_s, waiting_for):
            answered = await call_model(
                chosen, prepare_route, registry=ctx.services.registry, settings=settings,
                fail_over_within=(ctx.category or "balanced") if route is None else None,
                accept=lambda r: not images or r.spec.supports_images, on_try=trying,
            )
    except CallFailed as exc:
        raise _provider_failure(exc) from exc.error
    result, plan = answered.result, answered.prepared
    usage = result.usage
    return Answer(
        text=result.text,
        result=result,
        route=answered.route,
        plan=plan,
        cost_usd=answered.route.spec.cost_usd(usage.input_tokens, usage.output_tokens, usage.cached_tokens),
        attempts=answered.attempts,
        notes=tuple(result.notes),
        passed=_passed(files, optional_files, plan),
        failover=answered.hops,
    )


def _passed(files: Sequence[FileContent], optional: Sequence[FileContent], plan: PromptPlan) -> tuple[FileRef, ...]:
    """The call's files as the thread records them: all of `files` (they always fit), the optional ones embedded."""
    embedded = {e.path for e in plan.files}
    return tuple(f.ref() for f in files) + tuple(f.ref() for f in optional if f.path in embedded)


def exchange_turns(
    tool_name: str,
    user_text: str,
    answer: Answer,
    *,
    images: Sequence[str] = (),
    extra_meta: dict[str, Any] | None = None,
) -> tuple[Turn, Turn]:
    """The user turn and assistant turn that record one model exchange on the thread."""
    refs = answer.file_refs()
    user = Turn(role="user", content=user_text, files=refs, images=image_refs(images), tool_name=tool_name)
    meta: dict[str, Any] = {}
    if answer.failover:
        meta["failover"] = [h.as_dict() for h in answer.failover]
    meta.update(extra_meta or {})
    assistant = Turn(
        role="assistant",
        content=answer.text,
        tool_name=tool_name,
        provider=answer.result.provider or answer.route.vendor.name,
        model=answer.result.model or answer.route.spec.model_name,
        usage=Usage(**answer.metadata()["tokens"]),
        cost_usd=round(answer.cost_usd, 6),
        metadata=meta,
    )
    return user, assistant
