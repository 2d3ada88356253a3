"""The SDK client of an adapter, built once, off the event loop, on first use."""

from __future__ import annotations

import asyncio
from typing import Any


class LazyClient:
    """Mixin: `warm_up()` runs the adapter's `_get_client()` in a worker thread, one build at a time."""

    _client: Any = None
    _warm_lock: asyncio.Lock | None = None

    def _get_client(self) -> Any:
        raise NotImplementedError

    async def warm_up(self) -> None:
        """Import the SDK and build the client outside any call's time bound (the first import takes ~0.7 s)."""
        if self._client is not None:
            return
        if self._warm_lock is None:
            self._warm_lock = asyncio.Lock()
        # Concurrent first calls must not each create (and leak) a client.
        async with self._warm_lock:
            if self._client is None:
                await asyncio.to_thread(self._get_client)
