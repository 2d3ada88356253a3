"""The ThreadStore protocol every storage backend implements, and its errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from utils.conversations.storage.records import excerpt
from utils.conversations.storage.summary import Totals, totals_of
from utils.conversations.turns import LOCAL_OWNER, Thread, Turn


# Whose threads a call may see when it names no one: the local user's only (never everyone's).
LOCAL_VIEW: tuple[str, ...] = (LOCAL_OWNER,)


class StoreError(Exception):
    """Base class for storage errors; messages tell the caller what to do next."""


class ThreadNotFoundError(StoreError):
    def __init__(self, thread_id: str) -> None:
        super().__init__(
            f"Conversation '{thread_id}' was not found or has expired. "
            "Start a new conversation by calling the tool again without continuation_id "
            "(use the 'threads' tool to list the conversations that still exist)."
        )
        self.thread_id = thread_id


class ThreadFullError(StoreError):
    def __init__(self, thread_id: str, max_turns: int) -> None:
        super().__init__(
            f"Conversation '{thread_id}' has reached its limit of {max_turns} turns "
            "(MAX_CONVERSATION_TURNS). Start a new conversation without continuation_id, "
            "summarising what matters from this one in your prompt."
        )
        self.thread_id = thread_id
        self.max_turns = max_turns


@dataclass(frozen=True)
class ThreadSummary:
    """What `list` returns: enough to recognise a thread without loading its turns."""

    thread_id: str
    tool_name: str
    created_at: datetime
    updated_at: datetime
    turn_count: int
    first_prompt: str
    models: tuple[str, ...]
    total_cost_usd: float
    total_tokens: int = 0


    @classmethod
    def of(cls, thread_id: str, tool_name: str, created_at: datetime, updated_at: datetime, totals: Totals) -> ThreadSummary:
        """The summary of a thread from its header and the totals its store kept."""
        return cls(
            thread_id=thread_id,
            tool_name=tool_name,
            created_at=created_at,
            updated_at=updated_at,
            turn_count=totals.turn_count,
            first_prompt=excerpt(totals.first_prompt),
            models=totals.models,
            total_cost_usd=round(totals.cost_usd, 6),
            total_tokens=totals.tokens,
        )


def summarise(thread: Thread) -> ThreadSummary:
    """The summary of a thread held whole in memory."""
    return ThreadSummary.of(thread.thread_id, thread.tool_name, thread.created_at, thread.updated_at, totals_of(thread))


@runtime_checkable
class ThreadStore(Protocol):
    """Durable conversation storage. Every method is safe under concurrent callers."""

    ttl: timedelta

    async def create(self, thread: Thread) -> Thread:
        """Store a new thread (it may already carry turns)."""
        ...

    async def get(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> Thread:
        """Load a live thread of one of `owners`; raise ThreadNotFoundError when unknown, expired or not theirs."""
        ...

    async def append(
        self,
        thread_id: str,
        turns: list[Turn],
        *,
        max_turns: int,
        state: dict[str, Any] | None = None,
        owners: Sequence[str] = LOCAL_VIEW,
    ) -> Thread:
        """Atomically add turns (and merge `state` keys); raise ThreadFullError past `max_turns`.

        The whole append is refused when it would exceed the limit: never a partial write.
        Refreshes the sliding TTL.
        """
        ...

    async def list(self, limit: int = 20, offset: int = 0, *, owners: Sequence[str] = LOCAL_VIEW) -> list[ThreadSummary]:
        """Live threads of `owners`, most recently updated first."""
        ...

    async def delete(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> bool:
        """Remove a thread of one of `owners`; False when there is no such thread."""
        ...

    async def expire(self) -> int:
        """Delete expired threads; return how many."""
        ...

    async def close(self) -> None:
        ...
