"""In-memory thread store: for tests and ephemeral use; lost when the process ends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from utils.conversations.storage.base import LOCAL_VIEW, ThreadFullError, ThreadNotFoundError, ThreadSummary, summarise
from utils.conversations.turns import Thread, Turn, has_room, utcnow


class MemoryThreadStore:
    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl
        self._threads: dict[str, Thread] = {}
        self._lock = asyncio.Lock()

    def _live(self, thread: Thread) -> bool:
        return thread.updated_at + self.ttl > utcnow()

    async def create(self, thread: Thread) -> Thread:
        async with self._lock:
            self._threads[thread.thread_id] = thread
        return thread

    async def get(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None or not self._live(thread) or thread.owner not in owners:
            raise ThreadNotFoundError(thread_id)
        return thread

    async def append(
        self, thread_id: str, turns: list[Turn], *, max_turns: int, state: dict[str, Any] | None = None,
        owners: Sequence[str] = LOCAL_VIEW,
    ) -> Thread:
        async with self._lock:
            thread = await self.get(thread_id, owners=owners)
            if not has_room(len(thread.turns), len(turns), max_turns):
                raise ThreadFullError(thread_id, max_turns)
            merged = {**thread.state, **(state or {})}
            updated = thread.model_copy(update={"turns": (*thread.turns, *turns), "state": merged, "updated_at": utcnow()})
            self._threads[thread_id] = updated
            return updated

    async def list(self, limit: int = 20, offset: int = 0, *, owners: Sequence[str] = LOCAL_VIEW) -> list[ThreadSummary]:
        mine = (t for t in self._threads.values() if self._live(t) and t.owner in owners)
        live = sorted(mine, key=lambda t: t.updated_at, reverse=True)
        return [summarise(t) for t in live[offset : offset + limit]]

    async def delete(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> bool:
        async with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None or thread.owner not in owners:
                return False
            del self._threads[thread_id]
            return True

    async def expire(self) -> int:
        async with self._lock:
            dead = [tid for tid, t in self._threads.items() if not self._live(t)]
            for tid in dead:
                del self._threads[tid]
            return len(dead)

    async def close(self) -> None:
        return None
