"""Rows a client feels before any call: cold start, and how much of its context the tool list eats."""

from __future__ import annotations

import json
import time
from typing import Any

from bench.common import BARE_SERVER, SERVER, Bench, Line, RowResult, connect, median, stdio

COLD_TARGET = 1.2
TOKENS_TARGET = 5_000


async def _spawn_to_tools(params: Any) -> float:
    """Seconds from spawning the server to its tools/list answer (initialize handshake in between)."""
    started = time.perf_counter()
    async with connect(params) as client:
        await client.list_tools()
        elapsed = time.perf_counter() - started
    return elapsed


async def cold_start(bench: Bench) -> RowResult:
    """Quorum and the bare server spawned alternately, after one unmeasured spawn each to warm the disk cache."""
    quorum = stdio(SERVER, bench.quorum_env(bench.root / "cold-home"))
    bare = stdio(BARE_SERVER, bench.bare_env())
    if not bench.sizes.quick:
        await _spawn_to_tools(quorum)
        await _spawn_to_tools(bare)
    q_times: list[float] = []
    b_times: list[float] = []
    for _ in range(bench.sizes.cold_runs):
        q_times.append(await _spawn_to_tools(quorum))
        b_times.append(await _spawn_to_tools(bare))
    q, b = median(q_times) * 1000, median(b_times) * 1000
    line = Line(f"cold start, median of {len(q_times)} (ms)", q, b, "ms", f"≤ {COLD_TARGET}× floor",
                passed=q <= COLD_TARGET * b)
    details = {"quorum_ms": [round(t * 1000, 1) for t in q_times], "bare_ms": [round(t * 1000, 1) for t in b_times]}
    return RowResult("cold_start", [line], details)


def _wire_json(result: Any) -> str:
    """The tools/list result as the server puts it on the wire (camelCase, no nulls)."""
    return json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))


async def tool_list_weight(bench: Bench) -> RowResult:
    from utils.tokens import count_tokens, tokenizer_available

    quorum = await (await bench.session("quorum")).list_tools()
    bare = await (await bench.session("bare")).list_tools()
    q_text, b_text = _wire_json(quorum), _wire_json(bare)
    q_tokens, b_tokens = count_tokens(q_text, "cl100k_base"), count_tokens(b_text, "cl100k_base")
    exact = tokenizer_available("cl100k_base")
    per_tool = {t.name: count_tokens(_wire_json_tool(t), "cl100k_base") for t in quorum.tools}
    lines = [
        Line(f"tools/list tokens, {len(quorum.tools)} tools (cl100k)", q_tokens, b_tokens, "tokens",
             f"≤ {TOKENS_TARGET:,} tokens", passed=q_tokens <= TOKENS_TARGET,
             note="" if exact else "cl100k unavailable: estimated"),
        Line("tools/list JSON bytes", len(q_text.encode()), len(b_text.encode()), "bytes", "reported"),
    ]
    details = {"tools": [t.name for t in quorum.tools], "tokens_per_tool": per_tool, "exact_tokenizer": exact}
    return RowResult("tool_list", lines, details)


def _wire_json_tool(tool: Any) -> str:
    return json.dumps(tool.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
