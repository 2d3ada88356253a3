"""The thread model: a conversation stored as structured data, rendered to text only for prompts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


# The owner of threads started over stdio: the user of this machine.
LOCAL_OWNER = "local"
# Turns one ordinary call adds to a thread: the request and the answer.
TURNS_PER_CALL = 2


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_thread_id() -> str:
    return str(uuid.uuid4())


def has_room(held: int, adding: int, limit: int) -> bool:
    """Whether a thread holding `held` turns may take `adding` more under MAX_CONVERSATION_TURNS=`limit`."""
    return held + adding <= limit


def calls_left(held: int, limit: int) -> int:
    """Ordinary calls (TURNS_PER_CALL turns each) a thread holding `held` turns can still take."""
    return max(0, limit - held) // TURNS_PER_CALL


def turns_cost(turns: Sequence[Turn]) -> float:
    """Dollars recorded on these turns."""
    return sum(t.cost_usd for t in turns)


def turns_tokens(turns: Sequence[Turn]) -> int:
    """Input plus output tokens recorded on these turns."""
    return sum(t.usage.input + t.usage.output for t in turns)


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


class FileRef(BaseModel):
    """A file as it was embedded in a turn: its path and the hash of its content then."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str = ""
    size: int = 0


class Usage(BaseModel):
    """Tokens one model call used, as the provider reported them."""

    model_config = ConfigDict(frozen=True)

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cached: int = 0


class Turn(BaseModel):
    """One message of a thread; an assistant turn carries what its model call used and cost."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    content: str
    timestamp: datetime = Field(default_factory=utcnow)
    files: tuple[FileRef, ...] = ()
    images: tuple[str, ...] = ()
    tool_name: str = ""
    provider: str = ""
    model: str = ""
    usage: Usage = Usage()
    cost_usd: float = 0.0
    # Free-form notes about the turn: failover hops, the workflow run it belongs to, its consensus role.
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lift_usage(cls, data: Any) -> Any:
        """Turns stored before usage and cost were fields kept them in `metadata` ("tokens", "cost_usd")."""
        if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
            return data
        meta = dict(data["metadata"])
        if "tokens" not in meta and "cost_usd" not in meta:
            return data
        tokens, cost = meta.pop("tokens", None), meta.pop("cost_usd", None)
        lifted = {**data, "metadata": meta}
        if "usage" not in data and isinstance(tokens, dict):
            lifted["usage"] = {k: int(v or 0) for k, v in tokens.items() if k in Usage.model_fields}
        if "cost_usd" not in data and cost is not None:
            lifted["cost_usd"] = float(cost or 0.0)
        return lifted


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
        return {key: sum(getattr(t.usage, key) for t in self.turns) for key in Usage.model_fields}
