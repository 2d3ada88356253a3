"""In-memory thread store: for tests and ephemeral use; lost when the process ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from utils.conversation import Thread, Turn, utcnow
from utils.storage.base import ThreadFullError, ThreadNotFoundError, ThreadSummary, summarise


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

    async def get(self, thread_id: str) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None or not self._live(thread):
            raise ThreadNotFoundError(thread_id)
        return thread

    async def append(
        self, thread_id: str, turns: list[Turn], *, max_turns: int, state: dict[str, Any] | None = None
    ) -> Thread:
        async with self._lock:
            thread = await self.get(thread_id)
            if len(thread.turns) + len(turns) > max_turns:
                raise ThreadFullError(thread_id, max_turns)
            merged = {**thread.state, **(state or {})}
            updated = thread.model_copy(update={"turns": (*thread.turns, *turns), "state": merged, "updated_at": utcnow()})
            self._threads[thread_id] = updated
            return updated

    async def list(self, limit: int = 20, offset: int = 0) -> list[ThreadSummary]:
        live = sorted((t for t in self._threads.values() if self._live(t)), key=lambda t: t.updated_at, reverse=True)
        return [summarise(t) for t in live[offset : offset + limit]]

    async def delete(self, thread_id: str) -> bool:
        async with self._lock:
            return self._threads.pop(thread_id, None) is not None

    async def expire(self) -> int:
        async with self._lock:
            dead = [tid for tid, t in self._threads.items() if not self._live(t)]
            for tid in dead:
                del self._threads[tid]
            return len(dead)

    async def close(self) -> None:
        return None
