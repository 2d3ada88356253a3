"""consensus: several models weigh one proposal in one call, concurrently, each blind to the others."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from providers.base import ImageInput
from providers.registry import ModelResolutionError, ProviderRegistry, Route
from tools.base import Tool, ToolError, ToolOutput
from tools.fields import ModelFields, StrictModel, StrList
from tools.pipeline.consult import Answer, consult, exchange_turns, with_notes
from tools.pipeline.context import RequestContext, no_progress
from tools.pipeline.envelope import ErrorKind
from tools.pipeline.fit import dropped_note
from tools.pipeline.inputs import load_files, load_images
from tools.pipeline.progress import heartbeat
from utils.config.settings import Settings
from utils.conversations.turns import FileRef, Turn, has_room, image_refs
from utils.gate.files import FileContent

Stance = Literal["for", "against", "neutral"]
CONSENSUS_COMPLETE = "consensus_complete"
MAX_MODELS = 10
_STANCE_HEADING = re.compile(r"^## Stance: (\w+)[ \t]*$", re.MULTILINE)
# Fields of the step protocol that PAL's consensus took and clients still send. Consensus is one call, not a
# run of steps, so it reads none of them; they are accepted (a client that sends them is not refused) and
# kept out of the advertised schema, where every token is paid in every session.
_UNADVERTISED = (
    "model", "step_number", "total_steps", "next_step_required", "files_checked", "relevant_context",
    "issues_found", "confidence", "hypothesis", "use_assistant_model",
)


def _advertise_consensus_fields(schema: dict[str, Any]) -> None:
    properties = schema.get("properties", {})
    for name in _UNADVERTISED:
        properties.pop(name, None)
    schema["required"] = [r for r in schema.get("required", []) if r not in _UNADVERTISED]


class ModelStance(StrictModel):
    model: str = Field(description="Name or alias")
    stance: Stance = "neutral"
    stance_prompt: str | None = Field(None, description="Replaces the stance's default instructions")


class ConsensusRequest(ModelFields):
    """What consensus reads, plus the step-protocol fields it accepts and ignores (see _UNADVERTISED)."""

    model_config = ConfigDict(json_schema_extra=_advertise_consensus_fields)
    files_field = "relevant_files"

    step: str = Field(description="The proposal or question to weigh, with the context the models need.")
    findings: str = Field("", description="Your own analysis so far, shown to every model")
    relevant_files: StrList = Field(default_factory=list, description="Absolute paths; embedded for the expert")
    images: StrList = Field(default_factory=list)
    working_directory_absolute_path: str | None = None
    models: list[ModelStance] = Field(description=f"2-{MAX_MODELS} models; each model at most once per stance")
    synthesis_model: str | None = Field(None, description="Also merge the perspectives into one recommendation")
    # Accepted, not read: the step protocol (see _UNADVERTISED).
    step_number: int = Field(1, ge=1)
    total_steps: int = Field(1, ge=1)
    next_step_required: bool = False
    files_checked: StrList = Field(default_factory=list)
    relevant_context: StrList = Field(default_factory=list)
    issues_found: list[dict[str, Any]] = Field(default_factory=list)
    confidence: str | None = None
    hypothesis: str | None = None
    use_assistant_model: bool | None = None

    def working_directory(self) -> str | None:
        return self.working_directory_absolute_path

    @field_validator("model")
    @classmethod
    def _one_model_is_not_a_consensus(cls, value: str | None) -> str | None:
        if value and value.strip().lower() != "auto":
            raise ValueError("consensus asks every model listed in 'models'; drop 'model' and add it there instead")
        return value

    @field_validator("models")
    @classmethod
    def _several_distinct_models(cls, value: list[ModelStance]) -> list[ModelStance]:
        if not 2 <= len(value) <= MAX_MODELS:
            raise ValueError(
                f"consensus needs 2 to {MAX_MODELS} entries in 'models' (got {len(value)}); "
                "for a single opinion use chat"
            )
        if repeat := first_repeat([(m.model.strip().lower(), m.stance) for m in value]):
            raise ValueError(_repeat_message(value, *repeat))
        return value


def first_repeat(keys: Sequence[tuple[str, str]]) -> tuple[int, int] | None:
    """Indices (earlier, later) of the first key seen twice, or None."""
    seen: dict[tuple[str, str], int] = {}
    for index, key in enumerate(keys):
        if key in seen:
            return seen[key], index
        seen[key] = index
    return None


def _repeat_message(entries: Sequence[ModelStance], earlier: int, later: int) -> str:
    e = entries[later]
    return (
        f"models[{later}] asks '{e.model}' with stance '{e.stance}' again (models[{earlier}] already does); "
        "give it a different stance or remove it"
    )


# Waiting allowed between one perspective's retries: consensus's own figure, not the retry policy's.
RETRY_ALLOWANCE_S = 30.0


def per_model_deadline(settings: Settings, route: Route) -> float:
    """One model's own time bound: one full attempt plus a pause per retry; a second hang is cut off."""
    return settings.attempt_timeout(route.vendor.name)[0] + settings.max_retries * RETRY_ALLOWANCE_S


def stance_prompts(text: str) -> tuple[str, dict[str, str]]:
    """Split the consensus prompt file into its shared body and the default instructions per stance."""
    pieces = _STANCE_HEADING.split(text)
    body, rest = pieces[0].rstrip(), pieces[1:]
    return body, {rest[i]: rest[i + 1].strip() for i in range(0, len(rest), 2)}


def perspective_system_prompt(body: str, stances: dict[str, str], entry: ModelStance) -> str:
    instructions = entry.stance_prompt.strip() if entry.stance_prompt else stances[entry.stance]
    return f"{body}\n\n## Your stance: {entry.stance}\n{instructions}\n"


def perspective_input(request: ConsensusRequest) -> str:
    parts = [f"Proposal to evaluate:\n{request.step.strip()}"]
    if request.findings.strip():
        parts.append(f"The requesting agent's own analysis so far:\n{request.findings.strip()}")
    parts.append(
        "Give your own assessment from your stance. Other models are judging the same proposal separately; "
        "you will not see their answers and they will not see yours."
    )
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Perspective:
    """One model's contribution: its answer, or why there is none."""

    entry: ModelStance
    route: Route
    answer: Answer | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    seconds: float = 0.0
    note: str | None = None
    attempts: int | None = None

    @property
    def model(self) -> str:
        return self.answer.result.model if self.answer and self.answer.result.model else self.route.spec.model_name

    @property
    def provider(self) -> str:
        return self.answer.result.provider if self.answer and self.answer.result.provider else self.route.vendor.name

    @property
    def label(self) -> str:
        custom = ", custom instructions" if self.entry.stance_prompt else ""
        return f"{self.model} (stance: {self.entry.stance}{custom})"

    def report(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "model": self.model,
            "provider": self.provider,
            "stance": self.entry.stance,
            "status": "ok" if self.answer else "error",
            "answer": self.answer.text if self.answer else None,
        }
        if self.entry.stance_prompt:
            shown["stance_prompt"] = self.entry.stance_prompt
        if self.error:
            shown["error"] = self.error
        if self.note:
            shown["note"] = self.note
        return shown

    def usage(self) -> dict[str, Any]:
        meta = self.answer.metadata() if self.answer else {}
        return {
            "model": self.model,
            "stance": self.entry.stance,
            "status": "ok" if self.answer else "error",
            "tokens": meta.get("tokens"),
            "cost_usd": meta.get("cost_usd", 0.0),
            "seconds": round(self.seconds, 3),
            "attempts": meta.get("attempts", self.attempts),
        }


def synthesis_input(request: ConsensusRequest, perspectives: Sequence[Perspective]) -> str:
    parts = [f"Proposal:\n{request.step.strip()}"]
    if request.findings.strip():
        parts.append(f"The requesting agent's own analysis:\n{request.findings.strip()}")
    for number, p in enumerate((p for p in perspectives if p.answer), start=1):
        assert p.answer is not None
        parts.append(f"--- Perspective {number}: {p.label} ---\n{p.answer.text.strip()}")
    missing = [f"{p.label}: {p.error}" for p in perspectives if not p.answer]
    if missing:
        parts.append("Reviewers that did not answer:\n" + "\n".join(f"- {m}" for m in missing))
    parts.append("Merge these perspectives as instructed.")
    return "\n\n".join(parts)


def _without_stance(shown: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in shown.items() if k != "stance"}


def resolve_routes(registry: ProviderRegistry, request: ConsensusRequest) -> tuple[list[Route], Route | None]:
    """Resolve every name before any call; all problems are reported together."""
    hint = registry.available_hint()
    problems: list[str] = []
    routes: list[Route] = []
    named = [(f"models[{i}]", e.model) for i, e in enumerate(request.models)]
    if request.synthesis_model:
        named.append(("synthesis_model", request.synthesis_model))
    for where, name in named:
        try:
            routes.append(registry.choose(name, "balanced"))
        except ModelResolutionError as exc:
            problems.append(f"{where} '{name}': {str(exc).replace(hint, '').strip()}")
    if problems:
        kind: ErrorKind = "unknown_model" if registry.has_models() else "no_provider"
        raise ToolError(kind, "Consensus did not start: " + "; ".join(problems) + f" {hint} Fix the names and call again.")
    synthesis = routes.pop() if request.synthesis_model else None
    if repeat := first_repeat([(f"{r.vendor.name}/{r.spec.model_name}", e.stance) for r, e in zip(routes, request.models)]):
        raise ToolError("invalid_arguments", "Invalid arguments: " + _repeat_message(request.models, *repeat) + ".")
    return routes, synthesis


class ConsensusTool(Tool):
    name = "consensus"
    description = (
        "Ask several models at once to weigh one proposal, each blind to the others and arguing a stance "
        "(for/against/neutral or custom); returns every perspective side by side, plus a merged recommendation "
        "with synthesis_model. One call; a failed model is reported, not fatal."
    )
    request_model = ConsensusRequest
    # Each entry of `models` is resolved by the tool itself; nothing is resolved up front.
    category = None
    prompt_field = "step"
    conversational = True

    async def run(self, request: ConsensusRequest, ctx: RequestContext) -> ToolOutput:
        for name in [*(e.model for e in request.models), request.synthesis_model]:
            await ctx.services.registry.prepare(name or None)  # a local server's models are listed on first need
        routes, synthesis_route = resolve_routes(ctx.services.registry, request)
        self._check_room(ctx, len(routes) + 1 + (1 if synthesis_route else 0))
        loaded = await load_files(ctx, request.relevant_files)
        files = loaded.files
        images = [await self._images(ctx, request, route) for route in routes]
        body, stances = stance_prompts(self.system_prompt())
        quiet = dataclasses.replace(ctx, progress=no_progress)  # one heartbeat for the whole fan-out
        started = time.monotonic()
        label = "consensus: " + ", ".join(r.spec.model_name for r in routes)
        async with heartbeat(ctx.progress, ctx.settings.heartbeat_s, label):
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(
                        self._ask(
                            quiet, request, entry, route,
                            system_prompt=perspective_system_prompt(body, stances, entry),
                            new_input=perspective_input(request),
                            files=files, deadline=per_model_deadline(ctx.settings, route), images=imgs, note=note,
                        )
                    )
                    for entry, route, (imgs, note) in zip(request.models, routes, images)
                ]
        perspectives = [t.result() for t in tasks]
        fan_out = time.monotonic() - started
        if not any(p.answer for p in perspectives):
            raise self._all_failed(perspectives)
        synthesis = None
        if synthesis_route is not None:
            async with heartbeat(ctx.progress, ctx.settings.heartbeat_s, f"consensus synthesis: {synthesis_route.spec.model_name}"):
                synthesis = await self._ask(
                    quiet, request, ModelStance(model=synthesis_route.spec.model_name, stance_prompt=None), synthesis_route,
                    system_prompt=self.system_prompt("consensus_synthesis"),
                    new_input=synthesis_input(request, perspectives),
                    files=files, deadline=per_model_deadline(ctx.settings, synthesis_route),
                )
        timing = {"wall_time_s": time.monotonic() - started, "perspectives_s": fan_out}
        output = self._output(request, perspectives, synthesis, timing)
        return dataclasses.replace(output, metadata=with_notes(output.metadata, loaded.skipped))

    def _check_room(self, ctx: RequestContext, planned: int) -> None:
        limit = ctx.settings.max_conversation_turns
        existing = len(ctx.thread.turns) if ctx.thread else 0
        if not has_room(existing, planned, limit):
            raise ToolError(
                "thread_full",
                f"This consensus would add {planned} turns to a thread holding {existing} of at most {limit} "
                "(MAX_CONVERSATION_TURNS). Start a new conversation without continuation_id, or ask fewer models.",
            )

    async def _images(self, ctx: RequestContext, request: ConsensusRequest, route: Route) -> tuple[tuple[ImageInput, ...], str | None]:
        if not request.images:
            return (), None
        if not route.spec.supports_images:
            return (), "images were not sent: this model does not accept images"
        return await load_images(ctx, request.images, route), None

    async def _ask(
        self,
        ctx: RequestContext,
        request: ConsensusRequest,
        entry: ModelStance,
        route: Route,
        *,
        system_prompt: str,
        new_input: str,
        files: Sequence[FileContent],
        deadline: float,
        images: tuple[ImageInput, ...] = (),
        note: str | None = None,
    ) -> Perspective:
        """One model's answer, or the reason it has none; never raises for a provider fault or a timeout."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                answer = await consult(
                    ctx,
                    system_prompt=system_prompt,
                    new_input=new_input,
                    files=files,
                    images=images,
                    temperature=request.temperature,
                    thinking_mode=request.thinking_mode,
                    route=route,
                )
        except ToolError as exc:
            return Perspective(
                entry, route, error=exc.message, error_kind=exc.kind, seconds=time.monotonic() - started, note=note,
                attempts=exc.details.get("attempts"),
            )
        except TimeoutError:
            message = (f"no answer within {deadline:g}s, this model's time bound in consensus "
                       f"({ctx.settings.attempt_timeout(route.vendor.name)[1]})")
            return Perspective(entry, route, error=message, error_kind="provider_error", seconds=time.monotonic() - started, note=note)
        left_out = dropped_note(answer.plan)
        note = "; ".join(n for n in (note, left_out) if n) or None
        return Perspective(entry, route, answer=answer, seconds=time.monotonic() - started, note=note)

    def _all_failed(self, perspectives: Sequence[Perspective]) -> ToolError:
        kinds = {p.error_kind or "provider_error" for p in perspectives}
        # A shared non-provider cause (budget, prompt size) is reported as itself; mixed causes as provider errors.
        kind: ErrorKind = kinds.pop() if len(kinds) == 1 else "provider_error"
        reasons = "; ".join(f"{p.label}: {p.error}" for p in perspectives)
        return ToolError(
            kind,
            f"None of the {len(perspectives)} models answered, so there is no consensus. {reasons}. "
            "Check the failing providers (listmodels shows what is configured), then retry, or choose other models.",
            failures=[{"model": p.model, "stance": p.entry.stance, "error": p.error} for p in perspectives],
        )

    def _output(
        self,
        request: ConsensusRequest,
        perspectives: Sequence[Perspective],
        synthesis: Perspective | None,
        timing: dict[str, float],
    ) -> ToolOutput:
        answered = [p for p in perspectives if p.answer]
        content = {
            "proposal": request.step,
            "answered": f"{len(answered)}/{len(perspectives)}",
            "perspectives": [p.report() for p in perspectives],
            "synthesis": _without_stance(synthesis.report()) if synthesis else None,
            "next_steps": (
                "Weigh the perspectives (and the synthesis) for the user, with each model's stance in mind. "
                "Pass continuation_id to chat or any tool to discuss them further; every perspective is on the thread."
            ),
        }
        everyone = [*perspectives, *([synthesis] if synthesis else [])]
        costs = [float(p.usage()["cost_usd"] or 0.0) for p in everyone]
        totals = {"input": 0, "output": 0, "reasoning": 0, "cached": 0}
        for p in everyone:
            for key, value in (p.usage()["tokens"] or {}).items():
                totals[key] = totals.get(key, 0) + int(value or 0)
        metadata = {
            # Only the models that actually answered; failures are listed under "models" with their reason.
            "model_used": ", ".join(dict.fromkeys(p.model for p in perspectives if p.answer)),
            "provider_used": ", ".join(dict.fromkeys(p.provider for p in perspectives if p.answer)),
            "models": [p.usage() for p in perspectives],
            "synthesis": _without_stance(synthesis.usage()) if synthesis else None,
            "tokens": totals,
            "cost_usd": round(sum(costs), 6),
            **{key: round(seconds, 3) for key, seconds in timing.items()},
            "slowest_model_s": round(max(p.seconds for p in perspectives), 3),
        }
        return ToolOutput(
            content=json.dumps(content, ensure_ascii=False, indent=1),
            status=CONSENSUS_COMPLETE,
            content_type="json",
            metadata=metadata,
            turns=tuple(self._turns(request, perspectives, synthesis)),
        )

    def _turns(self, request: ConsensusRequest, perspectives: Sequence[Perspective], synthesis: Perspective | None) -> list[Turn]:
        answered = [p for p in perspectives if p.answer]
        refs: tuple[FileRef, ...] = answered[0].answer.file_refs() if answered[0].answer else ()
        asked = ", ".join(f"{p.model} [{p.entry.stance}]" for p in perspectives)
        text = request.step.strip()
        if request.findings.strip():
            text += f"\n\nMy analysis so far: {request.findings.strip()}"
        turns = [
            Turn(
                role="user",
                content=f"{text}\n\n(consensus asked: {asked})",
                files=refs,
                images=image_refs(request.images),
                tool_name=self.name,
            )
        ]
        recorded = [(p, "perspective", f"Consensus perspective of {p.label}") for p in answered]
        if synthesis is not None and synthesis.answer:
            recorded.append((synthesis, "synthesis", f"Consensus synthesis by {synthesis.model}"))
        for p, kind, heading in recorded:
            assert p.answer is not None
            extra = {"consensus": kind, "stance": p.entry.stance if kind == "perspective" else None}
            _, assistant = exchange_turns(self.name, "", p.answer, extra_meta=extra)
            turns.append(assistant.model_copy(update={"content": f"{heading}:\n\n{p.answer.text}"}))
        return turns
