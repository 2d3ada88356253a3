"""handle_call_tool, in order: lookup, validation, model, thread, run, record, envelope."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from providers.registry import ModelResolutionError, Route
from tools.base import Tool, ToolError, ToolOutput
from tools.fields import StrictModel
from tools.pipeline.arguments import describe_validation, without_control_fields
from tools.pipeline.context import RequestContext, Services, no_progress
from tools.pipeline.envelope import ContinuationOffer, Envelope, ErrorKind, error_envelope, serialise
from tools.pipeline.progress import ProgressFn
from utils.access.principals import LOCAL, Principal
from utils.conversations.storage.base import StoreError, ThreadFullError, ThreadNotFoundError
from utils.conversations.storage.records import PROMPT_STORE_CHARS
from utils.conversations.turns import TURNS_PER_CALL, Thread, calls_left, has_room
from utils.gate.errors import GateError
from utils.gate.images import describe_data_url
from utils.gate.prompt import take_prompt_file
from utils.gate.roots import decide_roots, narrow
from utils.gate.security import PathPolicy
from utils.privacy.redaction import NAMING_FIELDS, counting_redactions, redact_text, redact_tree

logger = logging.getLogger(__name__)

__all__ = ["Dispatcher", "stored_request"]


def stored_request(arguments: dict[str, Any]) -> dict[str, Any]:
    """The first request as a thread records it: long strings clipped, image data URLs replaced by their size."""

    def keep(value: Any) -> Any:
        if isinstance(value, str):
            return value[:PROMPT_STORE_CHARS]
        if isinstance(value, list):
            return [keep(v) for v in value[:100]]
        if isinstance(value, dict):
            return {k: keep(v) for k, v in list(value.items())[:100]}
        return value

    def image(item: Any) -> Any:
        return describe_data_url(item) if isinstance(item, str) and item.startswith("data:") else keep(item)

    stored = {k: keep(v) for k, v in arguments.items()}
    # Only under `images` is a "data:" string an image; elsewhere it is text that happens to start so.
    images = arguments.get("images")
    if images is not None:
        stored["images"] = [image(i) for i in images[:100]] if isinstance(images, list) else image(images)
    return stored


def overflow_dir(policy: PathPolicy, default: Path) -> Path:
    """Where a call's overflow files go: its checked working directory's .quorum/outputs, else `default`.

    Never straight into / or the home directory, even when a configured root allows it.
    """
    wd = policy.working_dir
    return wd / ".quorum" / "outputs" if wd is not None and wd not in (Path("/"), Path.home()) else default


def store_failure(exc: StoreError) -> str:
    """What a storage failure tells the caller: the store's own explanation (each backend translates its
    driver's errors into StoreError), and what to do."""
    return f"Quorum could not read or write its conversation store: {str(exc).rstrip('.')}. Nothing new was recorded; retry the call."


class Dispatcher:
    """Runs one tool call through the request pipeline and returns the envelope text and the error flag."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def call_text(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        progress: ProgressFn = no_progress,
        client_roots: tuple[Path, ...] | None = None,
        principal: Principal = LOCAL,
    ) -> tuple[str, bool]:
        """The JSON text a client receives and its error flag, kept under MAX_MCP_OUTPUT_TOKENS.

        `client_roots` are the MCP client's roots (None when it declares no roots capability).
        """
        settings = self.services.settings
        overflow = settings.output_dir  # until the call's working directory has been checked
        is_error = True
        replaced: Counter[str] = Counter()
        try:
            with counting_redactions(replaced):
                tool, request, redacted = self._admit(name, arguments or {})
                policy = await asyncio.to_thread(self._policy, request, client_roots, principal == LOCAL)
                overflow = overflow_dir(policy, overflow)
                envelope = await self._call(tool, request, redacted, policy, overflow, progress, principal)
            is_error = False
        except (ToolError, GateError) as exc:  # the one place where a refusal becomes an error envelope
            # Redacted here, whatever raised it: an error may quote a CLI's output or a path's surroundings.
            envelope = error_envelope(exc.kind, redact_text(exc.message), name, **exc.details)
        except StoreError as exc:
            logger.exception("conversation store failed during %s", name)
            envelope = error_envelope("storage_error", store_failure(exc), name)
        except Exception:
            logger.exception("tool %s failed unexpectedly", name)
            envelope = error_envelope(
                "internal_error",
                f"Quorum hit an internal error while running '{name}'. Nothing was recorded on the thread. "
                "Retry the call; if it fails again, check the server log (LOG_LEVEL=DEBUG) and report it.",
                name,
            )
        if replaced:  # how many secrets this call kept from the model and the store, by kind; never the values
            envelope.metadata["redactions"] = dict(sorted(replaced.items()))
        keep_for = timedelta(hours=settings.conversation_timeout_hours)
        return serialise(envelope, settings.max_mcp_output_tokens, overflow, keep_for), is_error

    def _admit(self, name: str, arguments: dict[str, Any]) -> tuple[Tool, StrictModel, dict[str, Any]]:
        """The tool, its validated request, and the arguments as redacted (what the thread records)."""
        tool = self.services.tools.get(name)
        if tool is None:
            raise ToolError(
                "unknown_tool",
                f"Unknown tool '{name}'. Available tools: {', '.join(sorted(self.services.tools))}.",
            )
        # Every free-text argument, once, before anything reads it: what reaches a model, the store
        # (initial_request included) or even a validation error message is redacted.
        arguments = redact_tree(arguments, NAMING_FIELDS)
        arguments = without_control_fields(arguments, tool.request_model.model_fields)
        try:
            return tool, tool.request_model.model_validate(arguments), arguments
        except ValidationError as exc:
            raise ToolError("invalid_arguments", describe_validation(exc, tool.request_model)) from exc

    async def _call(
        self, tool: Tool, request: StrictModel, arguments: dict[str, Any], policy: PathPolicy, overflow: Path,
        progress: ProgressFn, principal: Principal,
    ) -> Envelope:
        request = await asyncio.to_thread(self._prompt_from_file, tool, request, policy)
        route = await self._resolve_model(tool, request)
        thread = await self._load_thread(tool, request, principal)
        ctx = RequestContext(
            tool_name=tool.name,
            services=self.services,
            policy=policy,
            overflow_dir=overflow,
            category=tool.category,
            route=route,
            thread=thread,
            progress=progress,
            principal=principal,
        )
        output = await tool.run(request, ctx)
        thread = await self._record(tool, request, ctx, output, arguments)
        return self._envelope(tool, ctx, output, thread)

    def _policy(self, request: StrictModel, client_roots: tuple[Path, ...] | None, local: bool) -> PathPolicy:
        """The call's path policy: the user's roots, narrowed to the working directory the call names.

        Only the local user's own client may add roots; a remote principal's client roots can only narrow them.
        """
        settings = self.services.settings
        roots = decide_roots(
            server_cwd=self.services.server_cwd, configured=settings.allowed_roots, client=client_roots,
            home=Path.home(), client_widens=local,
        )
        policy = roots.policy(allow_secret_files=settings.allow_secret_files)
        raw_wd = request.working_directory()
        return narrow(policy, raw_wd) if raw_wd else policy

    def _prompt_from_file(self, tool: Tool, request: StrictModel, policy: PathPolicy) -> StrictModel:
        """A prompt too large for the transport arrives as prompt.txt in the request's files field."""
        field = tool.prompt_field
        if field is None:
            return request
        list_field = request.files_field
        settings = self.services.settings
        taken = take_prompt_file(
            getattr(request, field) or "",
            request.passed_files(),
            policy,
            max_bytes=settings.max_file_bytes,
            limit=settings.max_prompt_chars,
            field=field,
            list_field=list_field or "absolute_file_paths",
        )
        if not taken.from_file or list_field is None:
            return request
        return request.model_copy(update={field: taken.text, list_field: list(taken.paths)})

    async def _resolve_model(self, tool: Tool, request: StrictModel) -> Route | None:
        if tool.category is None:
            return None
        registry = self.services.registry
        asked = request.asked_model() or self.services.settings.default_model
        await registry.prepare(asked)  # a local server's models are listed on first need, never at start-up
        try:
            return registry.choose(asked, tool.category)
        except ModelResolutionError as exc:
            kind: ErrorKind = "no_provider" if not registry.has_models() else "unknown_model"
            raise ToolError(kind, str(exc)) from exc

    async def _load_thread(self, tool: Tool, request: StrictModel, principal: Principal) -> Thread | None:
        thread_id = request.thread_ref()
        if not thread_id:
            return None
        try:
            # Another principal's thread is refused exactly as an unknown one: its existence is not disclosed.
            thread = await self.services.store.get(thread_id, owners=principal.sees)
        except ThreadNotFoundError as exc:
            raise ToolError("unknown_thread", str(exc), continuation_id=thread_id) from exc
        limit = self.services.settings.max_conversation_turns
        if tool.conversational and not has_room(len(thread.turns), TURNS_PER_CALL, limit):
            raise ToolError("thread_full", str(ThreadFullError(thread_id, limit)), continuation_id=thread_id)
        return thread

    async def _record(
        self, tool: Tool, request: StrictModel, ctx: RequestContext, output: ToolOutput, arguments: dict[str, Any]
    ) -> Thread | None:
        if not tool.conversational or (not output.turns and output.state is None):
            return ctx.thread
        # Nothing is stored unredacted. Turns are redacted here (model answers and CLI output included). Tool
        # state is built only from admitted arguments (redacted in _admit) and from state stored earlier (redacted
        # on its way in, or by the store's upgrade), so it is not scanned again: a long run would cost O(steps).
        turns = [t.model_copy(update={"content": redact_text(t.content)}) for t in output.turns]
        state = output.state
        store = self.services.store
        limit = self.services.settings.max_conversation_turns
        try:
            if ctx.thread is not None:
                return await store.append(
                    ctx.thread.thread_id, turns, max_turns=limit, state=state, owners=ctx.principal.sees
                )
            return await store.create(
                Thread(
                    tool_name=tool.name,
                    owner=ctx.principal.name,
                    initial_request=stored_request(arguments),
                    turns=tuple(turns),
                    state=state or {},
                )
            )
        except StoreError as exc:
            # The answer is returned inside the error so the work done (and paid for) is not lost.
            lost: ErrorKind = (
                "thread_full" if isinstance(exc, ThreadFullError)
                else "unknown_thread" if isinstance(exc, ThreadNotFoundError)
                else "storage_error"
            )
            if lost == "storage_error":
                logger.exception("conversation store failed after %s answered", tool.name)
            message = str(exc) if lost != "storage_error" else store_failure(exc)
            raise ToolError(lost, f"{message}\n\nThe answer that could not be recorded:\n\n{output.content}") from exc

    def _envelope(self, tool: Tool, ctx: RequestContext, output: ToolOutput, thread: Thread | None) -> Envelope:
        metadata: dict[str, Any] = {"tool_name": tool.name, **output.metadata}
        if ctx.category is not None:
            # Only the tool knows which model answered (after a failover, not the one resolved), or whether
            # any did: a model tool's output that names none called none.
            metadata.setdefault("model_used", None)
            metadata.setdefault("provider_used", None)
        offer = None
        if tool.conversational and thread is not None:
            metadata["thread_cost_usd"] = thread.total_cost_usd
            metadata["thread_tokens"] = thread.token_totals()
            if output.offer_continuation:
                offer = ContinuationOffer(
                    continuation_id=thread.thread_id,
                    remaining_turns=calls_left(len(thread.turns), self.services.settings.max_conversation_turns),
                    note=(
                        f"Pass continuation_id='{thread.thread_id}' to any Quorum tool to continue this conversation "
                        "with any model; it will see everything so far."
                    ),
                )
        return Envelope(
            status=output.status,
            content=output.content,
            content_type=output.content_type,
            metadata=metadata,
            continuation_offer=offer,
            extra=output.extra,
        )
