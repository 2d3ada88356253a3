"""Rows about time per call: per-call overhead, concurrency on one session, and consensus fan-out."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from bench.common import BENCH_MODELS, NOT_REGISTERED, Bench, Line, RowResult, call, finished_requests, median, percentile

OVERHEAD_TARGET_MS = 5.0
CONCURRENCY_TARGET = 1.15
CONSENSUS_TARGET = 1.1
PING = re.compile(r"ping (quorum|bare) (\d+)\b")


async def _overheads(bench: Bench) -> dict[str, tuple[list[float], list[float]]]:
    """Sequential tiny chats, Quorum and bare interleaved call by call so machine noise hits both alike.

    Per server: each call's client-observed latency − the fake's own time for its request, and that time (ms).
    """
    clients = {which: await bench.session(which) for which in ("quorum", "bare")}
    bench.provider(0.0)
    for i in range(bench.sizes.warmup):
        for which, client in clients.items():
            await _ok(client, "chat", {"prompt": f"warm-up {i}"})
    bench.provider(0.0)
    latency: dict[tuple[str, int], float] = {}
    for i in range(bench.sizes.calls):
        order = ("quorum", "bare") if i % 2 == 0 else ("bare", "quorum")
        for which in order:
            started = time.perf_counter()
            await _ok(clients[which], "chat", {"prompt": f"ping {which} {i}"})
            latency[(which, i)] = time.perf_counter() - started
    recorded = await finished_requests(bench, len(latency))
    own: dict[tuple[str, int], float] = {}
    for r in recorded:
        found = PING.search(json.dumps(r["body"].get("messages", [])))
        if found:
            own[(found[1], int(found[2]))] = r["finished"] - r["arrived"]
    if set(own) != set(latency):
        raise RuntimeError(f"{len(latency)} calls made {len(recorded)} provider requests, expected one each")
    out: dict[str, tuple[list[float], list[float]]] = {}
    for which in clients:
        keys = [k for k in latency if k[0] == which]
        out[which] = ([(latency[k] - own[k]) * 1000 for k in keys], [own[k] * 1000 for k in keys])
    return out


async def _ok(client: Any, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    body, is_error = await call(client, tool, arguments)
    if is_error:
        raise RuntimeError(f"{tool} failed: {str(body.get('content', body))[:300]}")
    return body


async def per_call_overhead(bench: Bench) -> RowResult:
    """Median over repeated runs of the p50 and p95 overhead."""
    runs: dict[str, list[tuple[float, float]]] = {"quorum": [], "bare": []}
    provider_ms: list[float] = []
    for _ in range(bench.sizes.repeats):
        for which, (overheads, own) in (await _overheads(bench)).items():
            runs[which].append((percentile(overheads, 50), percentile(overheads, 95)))
            provider_ms.extend(own)
    q50, b50 = median([r[0] for r in runs["quorum"]]), median([r[0] for r in runs["bare"]])
    q95, b95 = median([r[1] for r in runs["quorum"]]), median([r[1] for r in runs["bare"]])
    n = bench.sizes.calls
    lines = [
        Line(f"per-call overhead p50, {n} calls (ms)", q50, b50, "ms", f"≤ {OVERHEAD_TARGET_MS:g} ms",
             passed=q50 <= OVERHEAD_TARGET_MS),
        Line(f"per-call overhead p95, {n} calls (ms)", q95, b95, "ms", "reported"),
        Line("  Quorum's share: its p50 − the floor's p50 (ms)", q50 - b50, None, "ms", "reported",
             note="what Quorum adds over a bare SDK server doing the same call"),
    ]
    details = {
        "runs": {k: [{"p50_ms": round(a, 2), "p95_ms": round(b, 2)} for a, b in v] for k, v in runs.items()},
        "provider_own_ms_median": round(median(provider_ms), 3),
        "quorum_excess_p50_ms": round(q50 - b50, 2),
    }
    return RowResult("per_call", lines, details)


async def _burst(bench: Bench, which: str, count: int, delay: float) -> tuple[float, float]:
    """`count` chats at once on one session; (wall seconds, spread of their arrivals at the provider)."""
    client = await bench.session(which)
    bench.provider(delay)
    started = time.perf_counter()
    await asyncio.gather(*(_ok(client, "chat", {"prompt": f"parallel {i}"}) for i in range(count)))
    wall = time.perf_counter() - started
    recorded = await finished_requests(bench, count)
    arrivals = [r["arrived"] for r in recorded]
    return wall, max(arrivals) - min(arrivals)


async def concurrency(bench: Bench) -> RowResult:
    count, delay = bench.sizes.concurrent, bench.sizes.slow_delay
    walls, spreads, bare_walls = [], [], []
    for _ in range(bench.sizes.repeats):
        wall, spread = await _burst(bench, "quorum", count, delay)
        walls.append(wall)
        spreads.append(spread)
        bare_walls.append((await _burst(bench, "bare", count, delay))[0])
    wall = median(walls)
    line = Line(f"{count} simultaneous chats, one session, delay {delay:g} s (wall s)", wall, delay, "s",
                f"≤ {CONCURRENCY_TARGET}× floor", passed=wall <= CONCURRENCY_TARGET * delay,
                note=f"bare server: {median(bare_walls):.3f} s")
    details = {"quorum_wall_s": _r(walls), "bare_wall_s": _r(bare_walls), "arrival_spread_s": _r(spreads)}
    return RowResult("concurrency", [line], details)


def fit_to_schema(tool: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    """Keep the arguments the tool's schema declares, so the bench follows the tool as it evolves."""
    properties = (tool.input_schema or {}).get("properties") or {}
    return {k: v for k, v in wanted.items() if k in properties}


async def listed_tools(bench: Bench) -> dict[str, Any]:
    result = await (await bench.session("quorum")).list_tools()
    return {t.name: t for t in result.tools}


async def consensus(bench: Bench) -> RowResult:
    tools = await listed_tools(bench)
    if "consensus" not in tools:
        return RowResult("consensus", [Line("consensus, 3 models (wall s)", None, None, "s",
                                            f"≤ {CONSENSUS_TARGET}× floor", note=NOT_REGISTERED)],
                         status="n/a", message=NOT_REGISTERED)
    delay = bench.sizes.slow_delay
    stances = ("for", "against", "neutral")
    wanted = {
        "step": "Proposal: replace the hand-written retry loop with a shared backoff helper.",
        "step_number": 1,
        "total_steps": 1,
        "next_step_required": False,
        "findings": "Three call sites retry differently; one never sleeps between attempts.",
        "models": [{"model": m, "stance": s} for m, s in zip(BENCH_MODELS, stances)],
    }
    arguments = fit_to_schema(tools["consensus"], wanted)
    client = await bench.session("quorum")
    walls, spreads, counts = [], [], []
    for _ in range(bench.sizes.repeats):
        bench.provider(delay)
        started = time.perf_counter()
        await _ok(client, "consensus", arguments)
        walls.append(time.perf_counter() - started)
        recorded = await finished_requests(bench, len(BENCH_MODELS))
        counts.append(len(recorded))
        arrivals = [r["arrived"] for r in recorded]
        spreads.append(max(arrivals) - min(arrivals))
    wall = median(walls)
    line = Line(f"consensus, {len(BENCH_MODELS)} models, delay {delay:g} s, one call (wall s)", wall, delay, "s",
                f"≤ {CONSENSUS_TARGET}× floor", passed=wall <= CONSENSUS_TARGET * delay,
                note=f"{median(counts):g} provider requests per call")
    details = {"wall_s": _r(walls), "provider_requests": counts, "arrival_spread_s": _r(spreads),
               "arguments": arguments}
    return RowResult("consensus", [line], details)


def _r(values: list[float]) -> list[float]:
    return [round(v, 4) for v in values]
