"""One continuation turn on a thread that already holds ~250 KB of files, beside a floor doing the same I/O.

Quorum gets only the continuation_id and a short prompt: it loads the thread, checks each file of the thread
for changes, assembles the budgeted prompt and records the turn. The floor (bench/bare_server.py with
BARE_FILES=1) is told the paths, reads the files and sends them with the prompt: the same bytes from disk and
to the provider, none of the bookkeeping.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from bench.common import Bench, Line, RowResult, call, finished_requests, percentile
from bench.conversation import source_file

TURN_TARGET = 2.5
FILES = 6
PING = re.compile(r"turn (quorum|bare) (\d+)\b")


async def _ok(client: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    body, is_error = await call(client, "chat", arguments)
    if is_error:
        raise RuntimeError(f"chat failed: {str(body.get('content', body))[:300]}")
    return body


async def continuation_turn(bench: Bench) -> RowResult:
    sizes = bench.sizes
    folder = bench.workdir / "turns"
    folder.mkdir(exist_ok=True)
    paths = [str(source_file(folder / f"part_{i}.py", sizes.turn_file_bytes, 50 + i)) for i in range(FILES)]
    total = FILES * sizes.turn_file_bytes
    clients = {"quorum": await bench.session("quorum"), "bare": await bench.session("bare_files")}
    bench.provider(0.0)
    opened = await _ok(clients["quorum"], {"prompt": "Read these modules.", "absolute_file_paths": paths})
    thread_id = opened["continuation_offer"]["continuation_id"]
    # A thread's files are usually minutes old when a later turn comes; the file cache only trusts a stat once
    # the file has been still for a moment (a same-tick rewrite could hide otherwise), so let them settle.
    await asyncio.sleep(0.3)

    def arguments(which: str, i: int) -> dict[str, Any]:
        prompt = f"turn {which} {i}: anything else to check?"
        if which == "quorum":
            return {"prompt": prompt, "continuation_id": thread_id}
        return {"prompt": prompt, "files": paths}

    for i in range(sizes.warmup):
        for which, client in clients.items():
            await _ok(client, arguments(which, -1 - i))
    bench.provider(0.0)
    latency: dict[tuple[str, int], float] = {}
    for i in range(sizes.turn_calls):
        for which in (("quorum", "bare") if i % 2 == 0 else ("bare", "quorum")):
            started = time.perf_counter()
            await _ok(clients[which], arguments(which, i))
            latency[(which, i)] = time.perf_counter() - started
    recorded = await finished_requests(bench, len(latency))
    own: dict[tuple[str, int], float] = {}
    sent: dict[str, list[int]] = {"quorum": [], "bare": []}
    for r in recorded:
        text = json.dumps(r["body"].get("messages", []), ensure_ascii=False)
        found = PING.findall(text)  # the last mention is the new request; earlier ones are history
        if found:
            which, number = found[-1][0], int(found[-1][1])
            own[(which, number)] = r["finished"] - r["arrived"]
            sent[which].append(len(text.encode()))
    if set(own) != set(latency):
        raise RuntimeError(f"{len(latency)} turns made {len(recorded)} provider requests, expected one each")
    ms = {w: [(latency[k] - own[k]) * 1000 for k in latency if k[0] == w] for w in clients}
    q50, b50 = percentile(ms["quorum"], 50), percentile(ms["bare"], 50)
    q95, b95 = percentile(ms["quorum"], 95), percentile(ms["bare"], 95)
    n = sizes.turn_calls
    lines = [
        Line(f"continuation turn, {total // 1024} KB of files in the thread, p50 of {n} (ms)", q50, b50, "ms",
             f"≤ {TURN_TARGET}× floor", passed=q50 <= TURN_TARGET * b50,
             note="floor: a bare server reading the same files and sending them with the prompt"),
        Line(f"  continuation turn p95 (ms)", q95, b95, "ms", "reported",
             note=f"request bytes, median: Quorum {percentile(sent['quorum'], 50):,.0f}, "
                  f"floor {percentile(sent['bare'], 50):,.0f}"),
    ]
    details = {"file_bytes_in_thread": total, "quorum_ms": [round(x, 2) for x in ms["quorum"]],
               "bare_ms": [round(x, 2) for x in ms["bare"]], "request_bytes": sent}
    return RowResult("turn", lines, details)
