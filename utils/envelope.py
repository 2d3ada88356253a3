"""The one response envelope every tool returns, and keeping it under the client's output cap."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

ContentType = Literal["text", "markdown", "json"]

# Status strings: defined here once.
SUCCESS = "success"
ERROR = "error"
CONTINUATION_AVAILABLE = "continuation_available"
CHALLENGE_CREATED = "challenge_created"

ErrorKind = Literal[
    "unknown_tool",
    "invalid_arguments",
    "unknown_model",
    "no_provider",
    "unknown_thread",
    "thread_full",
    "path_refused",
    "file_missing",
    "file_too_large",
    "prompt_too_large",
    "provider_error",
    "budget_exceeded",
    "internal_error",
    "storage_error",
    "tool_error",
]


@dataclass(frozen=True)
class ContinuationOffer:
    continuation_id: str
    remaining_turns: int
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"continuation_id": self.continuation_id, "remaining_turns": self.remaining_turns, "note": self.note}


@dataclass(frozen=True)
class Envelope:
    status: str
    content: str
    content_type: ContentType = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    continuation_offer: ContinuationOffer | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status,
            "content": self.content,
            "content_type": self.content_type,
            "metadata": self.metadata,
            "continuation_offer": self.continuation_offer.as_dict() if self.continuation_offer else None,
        }
        body.update(self.extra)
        return body


def error_envelope(kind: ErrorKind, message: str, tool_name: str, **details: Any) -> Envelope:
    metadata: dict[str, Any] = {"tool_name": tool_name, "error_kind": kind}
    metadata.update(details)
    return Envelope(status=ERROR, content=message, metadata=metadata)


def _estimate_tokens(text: str) -> int:
    # Output sizing only needs a safe upper-ish bound; JSON-escaped text runs near 3.5 chars/token.
    return int(len(text) / 3.5) + 1


def serialise(envelope: Envelope, max_tokens: int, spill_dir: Path | None) -> str:
    """JSON text of the envelope, spilling the content to a file when it would pass the cap."""
    text = json.dumps(envelope.as_dict(), ensure_ascii=False, default=str)
    if _estimate_tokens(text) <= max_tokens:
        return text
    path = _spill(envelope.content, spill_dir)
    keep_chars = max(1_000, int(max_tokens * 3.5 * 0.6) - (len(text) - len(envelope.content)))
    notice = (
        f"\n\n[Output truncated to fit MAX_MCP_OUTPUT_TOKENS={max_tokens}. "
        + (f"The full content ({len(envelope.content)} chars) is in {path} — read that file for the rest.]" if path else "The rest could not be saved.]")
    )
    metadata = {**envelope.metadata, "output_truncated": True, "output_file": str(path) if path else None}
    trimmed = Envelope(
        status=envelope.status,
        content=envelope.content[:keep_chars] + notice,
        content_type="text" if envelope.content_type == "json" else envelope.content_type,
        metadata=metadata,
        continuation_offer=envelope.continuation_offer,
        extra={k: v for k, v in envelope.extra.items() if len(json.dumps(v, default=str)) < 20_000},
    )
    return json.dumps(trimmed.as_dict(), ensure_ascii=False, default=str)


def _spill(content: str, spill_dir: Path | None) -> Path | None:
    if spill_dir is None:
        return None
    try:
        spill_dir.mkdir(parents=True, exist_ok=True)
        path = spill_dir / f"quorum-output-{uuid.uuid4().hex[:12]}.md"
        path.write_text(content, encoding="utf-8")
        return path
    except OSError:
        logger.exception("could not write overflow file under %s", spill_dir)
        return None
