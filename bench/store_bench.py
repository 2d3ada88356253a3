"""Measure the SQLite thread store: appends/s and thread loads/s at 1, 10 and 100 turns per thread.

Run: `python bench/store_bench.py [--quick] [--json PATH]`. Uses a temporary directory; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from utils.conversations.storage.sqlite import SqliteThreadStore  # noqa: E402
from utils.conversations.turns import FileRef, Thread, Turn  # noqa: E402

TURN_SIZES = (1, 10, 100)
CONTENT = "Here is a considered answer with some code.\n" * 40  # about 1.8 KB, a typical reply


@dataclass(frozen=True)
class Row:
    """One line of results."""

    turns_per_thread: int
    threads: int
    appends: int
    appends_per_s: float
    loads: int
    loads_per_s: float
    concurrent_appends_per_s: float


def _turn(i: int) -> Turn:
    role: Literal["user", "assistant"] = "user" if i % 2 == 0 else "assistant"
    return Turn(
        role=role,
        content=CONTENT,
        files=(FileRef(path=f"/src/module_{i % 5}.py", sha256="0" * 64, size=4_096),),
        tool_name="chat",
        provider="gemini" if role == "assistant" else "",
        model="gemini-pro" if role == "assistant" else "",
        metadata={"tokens": {"input": 1_200, "output": 300}, "cost_usd": 0.0021} if role == "assistant" else {},
    )


async def _measure(store: SqliteThreadStore, turns: int, threads: int, loads: int) -> Row:
    """Grow `threads` threads one turn per append to `turns` turns, then load them round-robin."""
    ids = [(await store.create(Thread(tool_name="chat", initial_request={"prompt": "bench"}))).thread_id
           for _ in range(threads)]
    started = time.perf_counter()
    for i in range(turns):
        for thread_id in ids:
            await store.append(thread_id, [_turn(i)], max_turns=turns + 1, state={"step": i})
    append_s = time.perf_counter() - started

    started = time.perf_counter()
    for n in range(loads):
        await store.get(ids[n % threads])
    load_s = time.perf_counter() - started

    # One more append on every thread at once: worker threads contending for the write lock.
    started = time.perf_counter()
    await asyncio.gather(*(store.append(t, [_turn(turns)], max_turns=turns + 1) for t in ids))
    concurrent_s = time.perf_counter() - started

    appends = turns * threads
    return Row(turns, threads, appends, appends / append_s, loads, loads / load_s, threads / concurrent_s)


async def run(quick: bool) -> list[Row]:
    threads, loads = (4, 40) if quick else (20, 1_000)
    rows = []
    with tempfile.TemporaryDirectory(prefix="quorum-bench-") as tmp:
        for turns in TURN_SIZES:
            store = SqliteThreadStore(Path(tmp) / f"bench-{turns}.sqlite3", timedelta(hours=1))
            try:
                rows.append(await _measure(store, turns, threads, loads))
            finally:
                await store.close()
    return rows


def _print(rows: list[Row]) -> None:
    print(f"{'turns/thread':>12} {'threads':>8} {'appends':>8} {'appends/s':>10} {'loads':>6} {'loads/s':>9}"
          f" {'concurrent appends/s':>21}")
    for r in rows:
        print(f"{r.turns_per_thread:>12} {r.threads:>8} {r.appends:>8} {r.appends_per_s:>10.0f} {r.loads:>6}"
              f" {r.loads_per_s:>9.0f} {r.concurrent_appends_per_s:>21.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.quick))
    _print(rows)
    if args.json:
        payload = {"backend": "sqlite", "quick": args.quick, "python": sys.version.split()[0],
                   "results": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
