"""The thread model: a conversation stored as structured data, rendered to text only for prompts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


# The owner of threads started over stdio: the user of this machine.
LOCAL_OWNER = "local"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_thread_id() -> str:
    return str(uuid.uuid4())


def turns_cost(turns: Sequence[Turn]) -> float:
    """Dollars recorded on these turns."""
    return sum(float(t.metadata.get("cost_usd", 0.0) or 0.0) for t in turns)


def turns_tokens(turns: Sequence[Turn]) -> int:
    """Input plus output tokens recorded on these turns."""
    return sum(int(u.get("input", 0) or 0) + int(u.get("output", 0) or 0) for u in _usages(turns))


def merge_models(known: Sequence[str], turns: Sequence[Turn]) -> list[str]:
    """Models in order of first use: `known`, extended by those of `turns`."""
    merged = dict.fromkeys(known)
    for turn in turns:
        if turn.model:
            merged.setdefault(turn.model, None)
    return list(merged)


def image_refs(images: Sequence[str]) -> tuple[str, ...]:
    """Image references worth storing on a turn: paths, not inline data URLs."""
    return tuple(i for i in images if not i.startswith("data:"))


def _usages(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    return [t.metadata.get("tokens") or {} for t in turns]


class FileRef(BaseModel):
    """A file as it was embedded in a turn: its path and the hash of its content then."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str = ""
    size: int = 0


class Turn(BaseModel):
    """One message of a thread."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    content: str
    timestamp: datetime = Field(default_factory=utcnow)
    files: tuple[FileRef, ...] = ()
    images: tuple[str, ...] = ()
    tool_name: str = ""
    provider: str = ""
    model: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Thread(BaseModel):
    """A conversation: ordered turns plus what created it."""

    model_config = ConfigDict(frozen=True)

    thread_id: str = Field(default_factory=new_thread_id)
    parent_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    tool_name: str = ""
    # The principal that started the thread: only it (and those it is shared with) can see or continue it.
    owner: str = LOCAL_OWNER
    initial_request: dict[str, Any] = Field(default_factory=dict)
    turns: tuple[Turn, ...] = ()
    # Per-tool state (workflow progress) kept on the thread, never on tool objects.
    state: dict[str, Any] = Field(default_factory=dict)

    @property
    def total_cost_usd(self) -> float:
        return round(turns_cost(self.turns), 6)

    @property
    def models_used(self) -> list[str]:
        return merge_models((), self.turns)

    def token_totals(self) -> dict[str, int]:
        usages = _usages(self.turns)
        return {key: sum(int(u.get(key, 0) or 0) for u in usages) for key in ("input", "output", "reasoning", "cached")}
