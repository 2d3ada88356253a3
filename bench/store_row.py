"""The store row: bench/store_bench.py's SQLite figures (appends/s, loads/s at 1, 10, 100 turns), as table lines."""

from __future__ import annotations

import importlib
from dataclasses import asdict

from bench.common import Bench, Line, RowResult


async def store(bench: Bench) -> RowResult:
    try:
        store_bench = importlib.import_module("bench.store_bench")
    except ModuleNotFoundError:
        return RowResult("store", [Line("SQLite store", None, None, "", "reported", note="bench/store_bench.py absent")],
                         status="n/a", message="bench/store_bench.py absent")
    rows = await store_bench.run(bench.sizes.quick)
    lines = []
    for r in rows:
        lines.append(Line(f"store appends/s, {r.turns_per_thread} turns/thread", r.appends_per_s, None, "/s", "reported",
                          note=f"{r.threads} threads; concurrent {r.concurrent_appends_per_s:,.0f}/s"))
        lines.append(Line(f"store thread loads/s, {r.turns_per_thread} turns/thread", r.loads_per_s, None, "/s",
                          "reported"))
    return RowResult("store", lines, {"results": [asdict(r) for r in rows]})
