"""The one response envelope every tool returns, and keeping it under the client's output cap."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from utils.privacy.private import private_dir, write_private
from utils.vocabulary import PROJECT_DIR_NAME, ErrorKind

logger = logging.getLogger(__name__)

ContentType = Literal["text", "markdown", "json"]

SPILL_PREFIX = "quorum-output-"

# Status strings: defined here once.
SUCCESS = "success"
ERROR = "error"
CONTINUATION_AVAILABLE = "continuation_available"
CHALLENGE_CREATED = "challenge_created"



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


def _dump(envelope: Envelope) -> str:
    return json.dumps(envelope.as_dict(), ensure_ascii=False, default=str)


# How hard metadata and step data are squeezed, mildest first: (items kept per list or dict, chars per string).
_SQUEEZES = ((50, 2_000), (10, 300), (3, 80), (0, 40))
# Never squeezed: what tells the caller what happened and where the rest is.
_VITAL = ("tool_name", "error_kind", "model_used", "provider_used", "output_truncated", "output_file", "output_metadata_file")


def _squeeze(value: Any, items: int, chars: int, top: bool = False) -> Any:
    """A shortened copy of a JSON-like value that says how much it left out."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + f"… [{len(value) - chars:,} chars more]"
    if isinstance(value, list | tuple):
        kept = [_squeeze(v, items, chars) for v in value[:items]]
        return kept + ([f"… {len(value) - items:,} more"] if len(value) > items else [])
    if isinstance(value, dict):
        limit = len(value) if top else max(items, 4)
        entries = list(value.items())
        out = {str(k): (v if top and k in _VITAL else _squeeze(v, items, chars)) for k, v in entries[:limit]}
        if len(entries) > limit:
            out["…"] = f"{len(entries) - limit:,} more keys"
        return out
    return value


def serialise(envelope: Envelope, max_tokens: int, spill_dir: Path | None, keep_for: timedelta | None = None) -> str:
    """JSON text of the envelope under the cap, metadata included; what does not fit is saved to files."""
    text = _dump(envelope)
    if _estimate_tokens(text) <= max_tokens:
        return text
    path = _spill(envelope.content, spill_dir, keep_for)
    details = path.with_suffix(".json") if path else None
    where = f"The full content is in {path} — read that file for the rest.]" if path else "The rest could not be saved.]"
    notice = f"\n\n[Output truncated to fit MAX_MCP_OUTPUT_TOKENS={max_tokens}. {where}"
    marks = {"output_truncated": True, "output_file": str(path) if path else None}
    shell = _shell(envelope, notice, {**marks, "output_metadata_file": str(details) if details else None}, max_tokens)
    if details is not None and _squeezed(envelope, shell):
        _save_details(envelope, details)
    else:
        shell = replace(shell, metadata={k: v for k, v in shell.metadata.items() if k != "output_metadata_file"})
    limit = int((max_tokens - 1) * 3.5)
    kept = envelope.content[: max(0, limit - len(_dump(shell)))]
    while True:  # escaping can lengthen the text: cut by the excess until it fits
        text = _dump(replace(shell, content=kept + notice))
        excess = len(text) - limit
        if excess <= 0 or not kept:
            return text
        kept = kept[: max(0, len(kept) - excess)]


def _shell(envelope: Envelope, notice: str, marks: dict[str, Any], max_tokens: int) -> Envelope:
    """The envelope without its content, metadata and step data squeezed until they leave room for content."""
    content_type: ContentType = "text" if envelope.content_type == "json" else envelope.content_type
    for items, chars in _SQUEEZES:
        shell = Envelope(
            status=envelope.status,
            content=notice,
            content_type=content_type,
            metadata=_squeeze({**envelope.metadata, **marks}, items, chars, top=True),
            continuation_offer=envelope.continuation_offer,
            extra=_squeeze(envelope.extra, items, chars, top=True),
        )
        if _estimate_tokens(_dump(shell)) <= max_tokens * 0.4:
            return shell
    # Too large even squeezed: keep only what says what happened and where the rest is.
    vital = {k: envelope.metadata[k] for k in _VITAL if k in envelope.metadata}
    return Envelope(status=envelope.status, content=notice, content_type=content_type, metadata={**vital, **marks},
                    continuation_offer=envelope.continuation_offer)


def _squeezed(envelope: Envelope, shell: Envelope) -> bool:
    """Whether the reply lost any metadata or step data (then the full set is saved beside the content)."""
    shown = {k: v for k, v in shell.metadata.items() if k not in ("output_truncated", "output_file", "output_metadata_file")}
    return _dump(replace(shell, metadata=shown, content="")) != _dump(replace(envelope, content="", content_type=shell.content_type))


def _save_details(envelope: Envelope, path: Path) -> None:
    try:
        body = {k: v for k, v in envelope.as_dict().items() if k != "content"}
        write_private(path, json.dumps(body, ensure_ascii=False, indent=1, default=str))
    except (OSError, ValueError, RecursionError):
        logger.exception("could not write the overflow metadata file %s", path)


def _spill(content: str, spill_dir: Path | None, keep_for: timedelta | None) -> Path | None:
    """Save the content, owner-only; under a project's .quorum/ keep it out of git and prune old files."""
    if spill_dir is None:
        return None
    try:
        private_dir(spill_dir)
        if spill_dir.parent.name == PROJECT_DIR_NAME:
            _ignore_everything(spill_dir.parent)
        if keep_for is not None:
            _prune(spill_dir, keep_for)
        path = spill_dir / f"{SPILL_PREFIX}{uuid.uuid4().hex[:12]}.md"
        write_private(path, content)
        return path
    except OSError:
        logger.exception("could not write overflow file under %s", spill_dir)
        return None


def _ignore_everything(folder: Path) -> None:
    """Quorum's folder inside a project holds generated files only: git never sees them."""
    private_dir(folder)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        try:
            write_private(ignore, "# Written by Quorum: overflow files, never to be committed.\n*\n")
        except FileExistsError:
            pass  # another call wrote it meanwhile


def _prune(spill_dir: Path, keep_for: timedelta) -> None:
    """Overflow files live as long as the threads they came from (CONVERSATION_TIMEOUT_HOURS)."""
    cutoff = time.time() - keep_for.total_seconds()
    for old in spill_dir.glob(f"{SPILL_PREFIX}*"):
        try:
            if old.lstat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue  # gone already, or not ours to remove
