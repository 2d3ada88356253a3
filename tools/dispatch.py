"""handle_call_tool, in order: lookup, validation, model, thread, run, record, envelope."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from providers.registry import ModelResolutionError, Route
from tools.arguments import describe_validation, without_control_fields
from tools.base import Tool, ToolError, ToolOutput
from tools.context import ProgressFn, RequestContext, Services, no_progress
from utils.conversation import Thread
from utils.envelope import ContinuationOffer, Envelope, ErrorKind, error_envelope, serialise
from utils.files import FileTooLargeError, read_file
from utils.security import FileMissingError, PathPolicy, PathRefusedError
from utils.storage.base import StoreError, ThreadFullError, ThreadNotFoundError

logger = logging.getLogger(__name__)

PROMPT_FILE_NAME = "prompt.txt"


class Dispatcher:
    """Runs one tool call through the request pipeline and returns the envelope text and the error flag."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def call_text(
        self, name: str, arguments: dict[str, Any] | None, progress: ProgressFn = no_progress
    ) -> tuple[str, bool]:
        """The JSON text a client receives and its error flag, kept under MAX_MCP_OUTPUT_TOKENS."""
        # Overflow goes to the call's working directory once it is known, else under QUORUM_HOME.
        spill: list[Path] = [self.services.settings.output_dir]
        is_error = True
        try:
            envelope = await self._call(name, arguments or {}, progress, spill)
            is_error = False
        except ToolError as exc:
            envelope = error_envelope(exc.kind, exc.message, name, **exc.details)
        except (StoreError, sqlite3.Error) as exc:
            logger.exception("conversation store failed during %s", name)
            envelope = error_envelope(
                "storage_error",
                f"Quorum could not read or write its conversation store ({exc}). Nothing new was recorded. "
                "Retry the call; if it keeps failing, check that QUORUM_HOME is writable and on a local disk.",
                name,
            )
        except Exception:
            logger.exception("tool %s failed unexpectedly", name)
            envelope = error_envelope(
                "internal_error",
                f"Quorum hit an internal error while running '{name}'. Nothing was recorded on the thread. "
                "Retry the call; if it fails again, check the server log (LOG_LEVEL=DEBUG) and report it.",
                name,
            )
        return serialise(envelope, self.services.settings.max_mcp_output_tokens, spill[-1]), is_error

    async def _call(self, name: str, arguments: dict[str, Any], progress: ProgressFn, spill: list[Path]) -> Envelope:
        tool = self.services.tools.get(name)
        if tool is None:
            raise ToolError(
                "unknown_tool",
                f"Unknown tool '{name}'. Available tools: {', '.join(sorted(self.services.tools))}.",
            )
        arguments = without_control_fields(arguments, tool.request_model.model_fields)
        try:
            request = tool.request_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError("invalid_arguments", describe_validation(exc, tool.request_model)) from exc
        policy, spill_dir = self._policy(request)
        if spill_dir is not None:
            spill.append(spill_dir)
        request = self._prompt_from_file(tool, request, policy)
        route = self._resolve_model(tool, request)
        thread = await self._load_thread(tool, request)
        ctx = RequestContext(
            tool_name=name,
            services=self.services,
            policy=policy,
            route=route,
            thread=thread,
            progress=progress,
        )
        output = await tool.run(request, ctx)
        thread = await self._record(tool, request, ctx, output, arguments)
        return self._envelope(tool, ctx, output, thread)

    def _policy(self, request: BaseModel) -> tuple[PathPolicy, Path | None]:
        settings = self.services.settings
        roots: list[Path] = [self.services.server_cwd, *settings.allowed_roots]
        spill_dir: Path | None = settings.output_dir
        raw_wd = getattr(request, "working_directory_absolute_path", None)
        if raw_wd:
            try:
                wd = PathPolicy(allowed_roots=(Path("/"),)).check(raw_wd)
            except (PathRefusedError, FileMissingError) as exc:
                raise ToolError("path_refused", f"working_directory_absolute_path: {exc}") from exc
            if not wd.is_dir():
                raise ToolError(
                    "path_refused", f"working_directory_absolute_path '{raw_wd}' is not a directory; pass the project directory."
                )
            roots.insert(0, wd)
            spill_dir = wd / ".quorum" / "outputs"
        resolved = tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))
        return PathPolicy(allowed_roots=resolved, allow_secret_files=settings.allow_secret_files), spill_dir

    def _prompt_from_file(self, tool: Tool, request: BaseModel, policy: PathPolicy) -> BaseModel:
        """A prompt too large for the transport arrives as prompt.txt in absolute_file_paths."""
        field = tool.prompt_field
        if field is None:
            return request
        text: str = getattr(request, field) or ""
        list_field = next(
            (name for name in ("absolute_file_paths", "relevant_files") if name in type(request).model_fields), None
        )
        paths: list[str] = list(getattr(request, list_field, []) or []) if list_field else []
        prompt_files = [p for p in paths if Path(p).name == PROMPT_FILE_NAME]
        limit = self.services.settings.max_prompt_chars
        if prompt_files and list_field:
            try:
                checked = policy.check(prompt_files[0])
            except (PathRefusedError, FileMissingError) as exc:
                raise ToolError("path_refused", f"{PROMPT_FILE_NAME}: {exc}") from exc
            if not checked.is_file():
                raise ToolError(
                    "path_refused",
                    f"{PROMPT_FILE_NAME}: '{prompt_files[0]}' is not a file; pass the text file that holds the prompt.",
                )
            try:
                loaded = read_file(checked, max_bytes=self.services.settings.max_file_bytes).text
            except FileTooLargeError as exc:
                raise ToolError("file_too_large", f"{PROMPT_FILE_NAME}: {exc}") from exc
            text = f"{loaded}\n\n{text}".strip() if text else loaded
            remaining = [p for p in paths if Path(p).name != PROMPT_FILE_NAME]
            return request.model_copy(update={field: text, list_field: remaining})
        if len(text) > limit:
            where = list_field or "absolute_file_paths"
            raise ToolError(
                "prompt_too_large",
                f"The '{field}' is {len(text):,} characters, over the {limit:,}-character limit for tool arguments "
                f"(QUORUM_MAX_PROMPT_CHARS). Save the full text to a file named {PROMPT_FILE_NAME}, pass its absolute "
                f"path in {where}, and put a one-line summary in '{field}'.",
                size=len(text),
                limit=limit,
            )
        return request

    def _resolve_model(self, tool: Tool, request: BaseModel) -> Route | None:
        if tool.category is None:
            return None
        registry = self.services.registry
        asked = getattr(request, "model", None) or self.services.settings.default_model
        try:
            if not asked or asked.strip().lower() == "auto":
                return registry.auto_select(tool.category)
            return registry.resolve(asked)
        except ModelResolutionError as exc:
            kind: ErrorKind = "no_provider" if not registry.has_models() else "unknown_model"
            raise ToolError(kind, str(exc)) from exc

    async def _load_thread(self, tool: Tool, request: BaseModel) -> Thread | None:
        thread_id = getattr(request, "continuation_id", None)
        if not thread_id:
            return None
        try:
            thread = await self.services.store.get(thread_id)
        except ThreadNotFoundError as exc:
            raise ToolError("unknown_thread", str(exc), continuation_id=thread_id) from exc
        limit = self.services.settings.max_conversation_turns
        if tool.conversational and len(thread.turns) + 2 > limit:
            raise ToolError("thread_full", str(ThreadFullError(thread_id, limit)), continuation_id=thread_id)
        return thread

    async def _record(
        self, tool: Tool, request: BaseModel, ctx: RequestContext, output: ToolOutput, arguments: dict[str, Any]
    ) -> Thread | None:
        if not tool.conversational or (not output.turns and output.state is None):
            return ctx.thread
        store = self.services.store
        limit = self.services.settings.max_conversation_turns
        try:
            if ctx.thread is not None:
                return await store.append(ctx.thread.thread_id, list(output.turns), max_turns=limit, state=output.state)
            initial = {k: (v[:2_000] if isinstance(v, str) else v) for k, v in arguments.items()}
            return await store.create(
                Thread(tool_name=tool.name, initial_request=initial, turns=output.turns, state=output.state or {})
            )
        except (ThreadFullError, ThreadNotFoundError) as exc:
            # The answer is returned inside the error so the work done is not lost.
            lost: ErrorKind = "thread_full" if isinstance(exc, ThreadFullError) else "unknown_thread"
            raise ToolError(lost, f"{exc}\n\nThe answer that could not be recorded:\n\n{output.content}") from exc

    def _envelope(self, tool: Tool, ctx: RequestContext, output: ToolOutput, thread: Thread | None) -> Envelope:
        metadata: dict[str, Any] = {"tool_name": tool.name, **output.metadata}
        if ctx.route is not None:
            metadata.setdefault("model_used", ctx.route.spec.model_name)
            metadata.setdefault("provider_used", ctx.route.vendor.name)
        offer = None
        if tool.conversational and thread is not None:
            metadata["thread_cost_usd"] = thread.total_cost_usd
            metadata["thread_tokens"] = thread.token_totals()
            if output.offer_continuation:
                remaining = max(0, self.services.settings.max_conversation_turns - len(thread.turns))
                offer = ContinuationOffer(
                    continuation_id=thread.thread_id,
                    remaining_turns=remaining // 2,
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
