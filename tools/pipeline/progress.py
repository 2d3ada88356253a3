"""Heartbeats: progress notifications while a long provider call runs, so clients keep waiting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], Awaitable[None]]


@contextlib.asynccontextmanager
async def heartbeat(report: ProgressFn, interval: float, label: str | Callable[[], str]) -> AsyncIterator[None]:
    """Report elapsed time every `interval` seconds until the block exits.

    `label` names what is awaited; a callable is read at each beat, so it can follow a failover.
    """
    started = time.monotonic()

    async def beat() -> None:
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            ticks += 1
            elapsed = time.monotonic() - started
            try:
                what = label() if callable(label) else label
                await report(float(ticks), f"waiting for {what}: {elapsed:.0f}s elapsed")
            except Exception:  # a client that went away must not break the call itself
                logger.debug("progress notification failed", exc_info=True)
                return

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
