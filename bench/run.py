"""Quorum's benchmark suite: every row of issue 5, measured as a client feels it, beside its floor.

    .venv/bin/python bench/run.py                 # full run (a few minutes): table, JSON, PNG
    .venv/bin/python bench/run.py --quick         # smoke: tiny sizes, seconds, no matplotlib needed
    .venv/bin/python bench/run.py --only per_call --only cold_start

Servers are spawned over stdio by the `mcp` SDK client; the provider is the fake from tests/fakes in
its own process. Timings are figures to read, not assertions: the exit status is 1 only when a row
could not be measured at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable as a script from anywhere

from bench import calls, conversation, memory, redaction_bench, startup, store_row, turn_latency  # noqa: E402
from bench.common import BENCH_DIR, REPO, Bench, Line, RowResult, Sizes  # noqa: E402

RowFn = Callable[[Bench], Awaitable[RowResult]]
ROWS: dict[str, RowFn] = {
    "cold_start": startup.cold_start,
    "tool_list": startup.tool_list_weight,
    "per_call": calls.per_call_overhead,
    "continuation": conversation.continuation_cost,
    "turn": turn_latency.continuation_turn,
    "cross_tool": conversation.cross_tool_thread,
    "consensus": calls.consensus,
    "concurrency": calls.concurrency,
    "memory": memory.memory,
    "store": store_row.store,
    "redaction": redaction_bench.row,
}
RESULTS = BENCH_DIR / "results"


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "")
    except OSError:
        pass
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "arch": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "mcp": version("mcp"),
        "openai": version("openai"),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        # Without cached bytecode every spawn recompiles Quorum's modules (the bare server has one small file).
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "project_bytecode_cached": any((REPO / d / "__pycache__").is_dir() for d in ("tools", "utils", "providers")),
    }


async def measure(names: list[str], sizes: Sizes) -> list[RowResult]:
    results = []
    async with Bench(sizes) as bench:
        for name in names:
            print(f"… {name}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                result = await ROWS[name](bench)
            except Exception as exc:  # one broken row must not hide the others
                traceback.print_exc(file=sys.stderr)
                result = RowResult(name, [Line(name, None, None, "", "", note=f"error: {exc}")],
                                   status="error", message=f"{type(exc).__name__}: {exc}")
            result.seconds = time.perf_counter() - started
            results.append(result)
    return results


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("tokens", "bytes", "calls", "/s"):
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if unit in ("ms", "%"):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{value:.3f}"


def table(results: list[RowResult]) -> str:
    header = ("measure", "Quorum", "floor", "ratio", "target", "result")
    rows = []
    for result in results:
        for ln in result.lines:
            verdict = {True: "pass", False: "FAIL", None: "—"}[ln.passed]
            if result.status != "ok":
                verdict = result.status
            ratio = f"{ln.ratio:.2f}×" if ln.ratio is not None else "—"
            measure = ln.measure + (f"  [{ln.note}]" if ln.note else "")
            rows.append((measure, _fmt(ln.quorum, ln.unit), _fmt(ln.floor, ln.unit), ratio, ln.target, verdict))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:4], widths[1:4])),
                              r[4].ljust(widths[4]), r[5]]))
    return "\n".join(out)


def markdown(results: list[RowResult]) -> str:
    """The same table as Markdown, for bench/README.md."""
    out = ["| measure | Quorum | floor | ratio | target | result |", "|---|---:|---:|---:|---|---|"]
    for result in results:
        for ln in result.lines:
            verdict = result.status if result.status != "ok" else {True: "pass", False: "**FAIL**", None: "—"}[ln.passed]
            ratio = f"{ln.ratio:.2f}×" if ln.ratio is not None else "—"
            measure = ("↳ " if ln.measure.startswith(" ") else "") + ln.measure.strip()
            measure += f" ({ln.note})" if ln.note else ""
            out.append(f"| {measure} | {_fmt(ln.quorum, ln.unit)} | {_fmt(ln.floor, ln.unit)} | {ratio} | "
                       f"{ln.target} | {verdict} |")
    return "\n".join(out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description="Quorum benchmark suite (issue 5).")
    parser.add_argument("--quick", action="store_true", help="smoke mode: tiny sizes, finishes in seconds")
    parser.add_argument("--only", action="append", choices=list(ROWS), metavar="ROW",
                        help=f"run only this row (repeatable): {', '.join(ROWS)}")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write results here (default: bench/results/latest.json; none in --quick)")
    parser.add_argument("--chart", type=Path, metavar="PATH",
                        help="draw the ratio chart here (default: bench/results/latest.png; none in --quick)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the table as Markdown")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = [n for n in ROWS if not args.only or n in args.only]
    sizes = Sizes.for_mode(args.quick)
    info = machine()
    started = time.perf_counter()
    results = asyncio.run(measure(names, sizes))
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(table(results))
    payload = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": info,
        "rows": [r.to_json() for r in results],
    }
    print(f"\n{info['cpus']} cores {info['arch']}, Python {info['python']}, load {info['load_average_start']} → "
          f"{info['load_average_end']}; {payload['duration_s']} s")
    json_path = args.json or (None if args.quick else RESULTS / "latest.json")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"results: {json_path}")
    if args.markdown:
        args.markdown.write_text(markdown(results) + "\n", encoding="utf-8")
    chart_path = args.chart or (None if args.quick else RESULTS / "latest.png")
    if chart_path:
        try:
            from bench.chart import draw

            print(f"chart: {draw(payload, chart_path)}")
        except ImportError:
            print("chart skipped: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
    return 1 if any(r.status == "error" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
