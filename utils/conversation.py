"""The thread model: a conversation stored as structured data, rendered to text only for prompts."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_thread_id() -> str:
    return str(uuid.uuid4())


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
    initial_request: dict[str, Any] = Field(default_factory=dict)
    turns: tuple[Turn, ...] = ()
    # Per-tool state (workflow progress) kept on the thread, never on tool objects.
    state: dict[str, Any] = Field(default_factory=dict)

    @property
    def total_cost_usd(self) -> float:
        return round(sum(float(t.metadata.get("cost_usd", 0.0) or 0.0) for t in self.turns), 6)

    @property
    def models_used(self) -> list[str]:
        seen: dict[str, None] = {}
        for turn in self.turns:
            if turn.model:
                seen.setdefault(turn.model, None)
        return list(seen)

    def token_totals(self) -> dict[str, int]:
        totals = {"input": 0, "output": 0, "reasoning": 0, "cached": 0}
        for turn in self.turns:
            usage = turn.metadata.get("tokens") or {}
            for key in totals:
                totals[key] += int(usage.get(key, 0) or 0)
        return totals
