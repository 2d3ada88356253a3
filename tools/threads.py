"""threads: find and manage conversations, so an agent that lost its context can find its thread again."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tools.base import Tool, ToolError, ToolOutput
from tools.fields import StrictModel
from tools.pipeline.context import RequestContext
from utils.privacy.redaction import NAMING_FIELDS, redact_text, redact_tree


class ThreadsRequest(StrictModel):
    action: Literal["list", "show", "export", "delete"] = Field("list", description="What to do.")
    continuation_id: str | None = Field(None, description="Thread for show/export/delete.")
    limit: int = Field(20, ge=1, le=200, description="list: how many threads.")
    offset: int = Field(0, ge=0, description="list: how many to skip.")

    def thread_ref(self) -> str | None:
        return self.continuation_id


class ThreadsTool(Tool):
    name = "threads"
    description = (
        "Find and manage Quorum conversations: list recent threads, show or export one, delete one. "
        "Use it to recover a continuation_id after your context was cleared."
    )
    request_model = ThreadsRequest

    async def run(self, request: ThreadsRequest, ctx: RequestContext) -> ToolOutput:
        store = ctx.services.store
        owners = ctx.principal.sees  # a caller lists, reads and deletes its own threads only
        if request.action == "list":
            summaries = await store.list(limit=request.limit, offset=request.offset, owners=owners)
            if not summaries:
                empty = (
                    f"No conversations at offset {request.offset:,}: there are fewer than that. Call again with a smaller "
                    "offset (0 lists the most recent)." if request.offset else "No conversations stored yet."
                )
                return ToolOutput(content=empty, content_type="markdown", metadata={"count": 0})
            lines = ["| continuation_id | tool | updated (UTC) | turns | models | tokens | cost | first prompt |", "|---|---|---|---|---|---|---|---|"]
            for s in summaries:
                prompt = redact_text(s.first_prompt).replace("|", "\\|")
                lines.append(
                    f"| `{s.thread_id}` | {s.tool_name} | {s.updated_at:%Y-%m-%d %H:%M} | {s.turn_count} | "
                    f"{', '.join(s.models) or '-'} | {s.total_tokens:,} | ${s.total_cost_usd:.4f} | {prompt} |"
                )
            return ToolOutput(content="\n".join(lines), content_type="markdown", metadata={"count": len(summaries)})
        if not request.continuation_id:
            raise ToolError("invalid_arguments", f"'continuation_id' is required for action '{request.action}'; list threads to find it.")
        thread_id = request.continuation_id
        if request.action == "delete":
            if not await store.delete(thread_id, owners=owners):
                raise ToolError("unknown_thread", f"Conversation '{thread_id}' does not exist; nothing was deleted.")
            return ToolOutput(content=f"Deleted conversation {thread_id}.", metadata={"deleted": thread_id})
        # The dispatcher loaded the thread (thread_ref) for this caller's owners; an unknown id was refused there.
        if ctx.thread is None:
            raise ToolError("unknown_thread", f"Conversation '{thread_id}' was not found; list threads to find it.")
        # A thread written straight to a store by older code may still hold a secret: never print it.
        thread = redact_tree(ctx.thread, NAMING_FIELDS)
        tokens = thread.token_totals()
        totals = {"turns": len(thread.turns), "cost_usd": thread.total_cost_usd, "tokens": tokens}
        if request.action == "export":
            return ToolOutput(content=thread.model_dump_json(indent=2), content_type="json", metadata=totals)
        lines = [
            f"# Conversation {thread.thread_id}",
            f"Started by `{thread.tool_name}` at {thread.created_at:%Y-%m-%d %H:%M} UTC; "
            f"{len(thread.turns)} turns; models: {', '.join(thread.models_used) or '-'}; cost ${thread.total_cost_usd:.4f}.",
            "Tokens: " + ", ".join(f"{n:,} {kind}" for kind, n in tokens.items()) + ".",
            "",
        ]
        for number, turn in enumerate(thread.turns, 1):
            who = " · ".join(x for x in (turn.role, turn.tool_name, turn.model) if x)
            lines.append(f"## {number}. {who} ({turn.timestamp:%H:%M:%S})")
            lines.append(turn.content)
            if turn.files:
                lines.append("Files: " + ", ".join(f.path for f in turn.files))
            lines.append("")
        return ToolOutput(content="\n".join(lines), content_type="markdown", metadata=totals)
