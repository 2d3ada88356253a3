"""Rows a client feels before any call: cold start, and how much of its context the tool list eats."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.common import BARE_SERVER, SERVER, Bench, Line, RowResult, child_pid, connect, cpu_seconds, median, stdio

COLD_TARGET = 1.2
TOKENS_TARGET = 5_000


async def _spawn_to_tools(params: Any, script: Path) -> tuple[float, float]:
    """Seconds from spawning the server to its tools/list answer (initialize handshake in between),
    and the CPU seconds the server used to get there (less sensitive to a busy machine than wall time)."""
    started = time.perf_counter()
    async with connect(params) as client:
        await client.list_tools()
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(child_pid(script))
    return elapsed, cpu


async def cold_start(bench: Bench) -> RowResult:
    """Quorum and the bare server spawned alternately, after one unmeasured spawn each to warm the disk cache."""
    quorum = stdio(SERVER, bench.quorum_env(bench.root / "cold-home"))
    bare = stdio(BARE_SERVER, bench.bare_env())
    if not bench.sizes.quick:
        await _spawn_to_tools(quorum, SERVER)
        await _spawn_to_tools(bare, BARE_SERVER)
    runs: dict[str, list[tuple[float, float]]] = {"quorum": [], "bare": []}
    for _ in range(bench.sizes.cold_runs):
        runs["quorum"].append(await _spawn_to_tools(quorum, SERVER))
        runs["bare"].append(await _spawn_to_tools(bare, BARE_SERVER))
    q, b = (median([wall for wall, _ in runs[k]]) * 1000 for k in ("quorum", "bare"))
    q_cpu, b_cpu = (median([cpu for _, cpu in runs[k]]) * 1000 for k in ("quorum", "bare"))
    lines = [
        Line(f"cold start: spawn → tools/list, median of {len(runs['quorum'])} (ms)", q, b, "ms",
             f"≤ {COLD_TARGET}× floor", passed=q <= COLD_TARGET * b,
             note=f"fastest run {min(w for w, _ in runs['quorum']) * 1000:.0f} vs {min(w for w, _ in runs['bare']) * 1000:.0f}"),
        Line("  server CPU time to that point (ms)", q_cpu, b_cpu, "ms", "reported",
             note="steadier than wall time on a busy machine"),
    ]
    details = {k: [{"wall_ms": round(w * 1000, 1), "cpu_ms": round(c * 1000)} for w, c in v] for k, v in runs.items()}
    return RowResult("cold_start", lines, details)


def _wire_json(result: Any) -> str:
    """The tools/list result as the server puts it on the wire (camelCase, no nulls)."""
    return json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))


async def tool_list_weight(bench: Bench) -> RowResult:
    from utils.prompting.tokens import count_tokens, tokenizer_available

    quorum_client, bare_client = await bench.session("quorum"), await bench.session("bare")
    quorum, bare = await quorum_client.list_tools(), await bare_client.list_tools()
    q_text, b_text = _wire_json(quorum), _wire_json(bare)
    q_tokens, b_tokens = count_tokens(q_text, "cl100k_base"), count_tokens(b_text, "cl100k_base")
    exact = tokenizer_available("cl100k_base")
    per_tool = {t.name: count_tokens(_wire_json_tool(t), "cl100k_base") for t in quorum.tools}
    lines = [
        Line(f"tools/list tokens, {len(quorum.tools)} tools (cl100k)", q_tokens, b_tokens, "tokens",
             f"≤ {TOKENS_TARGET:,} tokens", passed=q_tokens <= TOKENS_TARGET,
             note="" if exact else "cl100k unavailable: estimated"),
        Line("tools/list JSON bytes", len(q_text.encode()), len(b_text.encode()), "bytes", "reported"),
        Line("  server instructions (initialize) tokens", count_tokens(quorum_client.instructions or "", "cl100k_base"),
             count_tokens(bare_client.instructions or "", "cl100k_base"), "tokens", "reported",
             note="also kept in the agent's context by most clients"),
    ]
    details = {"tools": [t.name for t in quorum.tools], "tokens_per_tool": per_tool, "exact_tokenizer": exact}
    return RowResult("tool_list", lines, details)


def _wire_json_tool(tool: Any) -> str:
    return json.dumps(tool.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
