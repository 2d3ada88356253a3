"""Memory: resident size of a freshly spawned server after it has created N threads through chat calls."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.common import BARE_SERVER, LAUNCHER, SERVER, Bench, Line, RowResult, call, connect, rss_kib, stdio

RSS_TARGET_MB = 70.0
FLAT_GROWTH = 0.10  # "flat": at most 10 % more from the first mark to the second


async def _create_threads(client: Any, count: int, parallel: int, start: int) -> set[str]:
    """`count` new chat threads, `parallel` calls in flight; returns the thread ids the server reported."""
    ids: set[str] = set()
    queue = iter(range(start, start + count))

    async def worker() -> None:
        for n in queue:
            body, is_error = await call(client, "chat", {"prompt": f"thread {n}: a short question"})
            if is_error:
                raise RuntimeError(f"chat {n} failed: {str(body.get('content'))[:300]}")
            offer = body.get("continuation_offer") or {}
            if offer.get("continuation_id"):
                ids.add(offer["continuation_id"])

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return ids


async def _grow(bench: Bench, client: Any, pid: int, marks: tuple[int, ...]) -> dict[str, Any]:
    """RSS after one warm-up call, then after each mark of threads created."""
    out: dict[str, Any] = {"rss_mb": {}, "create_s": {}}
    await call(client, "chat", {"prompt": "warm-up"})
    out["rss_mb"][0] = rss_kib(pid) / 1024
    made, ids = 0, set()
    for mark in marks:
        started = time.perf_counter()
        ids |= await _create_threads(client, mark - made, bench.sizes.memory_parallel, made)
        out["create_s"][mark] = round(time.perf_counter() - started, 2)
        made = mark
        out["rss_mb"][mark] = rss_kib(pid) / 1024
    out["threads_reported"] = len(ids)
    return out


async def _fresh(bench: Bench, script: Path, env: dict[str, str], marks: tuple[int, ...]) -> dict[str, Any]:
    """A newly spawned server, so nothing else the run did is in its memory."""
    pidfile = bench.root / f"memory-{script.stem}.pid"
    async with connect(stdio(LAUNCHER, {**env, "QUORUM_BENCH_PIDFILE": str(pidfile)}, str(script))) as client:
        return await _grow(bench, client, int(pidfile.read_text()), marks)


async def _measure(bench: Bench, which: str, marks: tuple[int, ...]) -> dict[str, Any]:
    bench.provider(0.0)
    if bench.sizes.quick:  # smoke mode: the shared sessions, to save two spawns
        return await _grow(bench, await bench.session(which), bench.pid(which), marks)
    if which == "quorum":
        return await _fresh(bench, SERVER, bench.quorum_env(bench.root / "memory-home"), marks)
    return await _fresh(bench, BARE_SERVER, bench.bare_env(), marks)


async def memory(bench: Bench) -> RowResult:
    first, second = bench.sizes.memory_marks
    quorum = await _measure(bench, "quorum", (first, second))
    bare = await _measure(bench, "bare", (first,))
    q1, q2, b1 = quorum["rss_mb"][first], quorum["rss_mb"][second], bare["rss_mb"][first]
    growth = (q2 - q1) / q1
    threads_ok = quorum["threads_reported"] == second
    lines = [
        Line(f"RSS after {first:,} threads (MB)", q1, b1, "MB", f"≤ {RSS_TARGET_MB:g} MB", passed=q1 <= RSS_TARGET_MB,
             note=f"idle after 1 call: {quorum['rss_mb'][0]:.1f} MB (bare {bare['rss_mb'][0]:.1f})"),
        Line(f"RSS after {second:,} threads (MB)", q2, None, "MB", f"flat: ≤ +{FLAT_GROWTH:.0%} over {first:,}",
             passed=growth <= FLAT_GROWTH and threads_ok,
             note=f"{growth:+.1%}; {quorum['threads_reported']:,} threads created in "
                  f"{sum(quorum['create_s'].values()):.0f} s"),
    ]
    return RowResult("memory", lines, {"quorum": quorum, "bare": bare, "parallel_calls": bench.sizes.memory_parallel})
