"""Rows about a growing conversation: what a thread costs at the provider, and one thread across tools."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.calls import fit_to_schema, listed_tools
from bench.common import NOT_REGISTERED, Bench, Line, RowResult, call, finished_requests, median

RATIO_TARGET = 1.05
PREFIX_TARGET = 90.0
WORKFLOW_TOOLS = ("analyze", "codereview", "debug")


def source_file(path: Path, size: int, seed: int) -> Path:
    """A deterministic Python-looking file of exactly `size` bytes."""
    lines, total, i = [], 0, 0
    while total < size:
        line = f"def handler_{seed}_{i}(request, retries={i % 7}):  # step {i} of module {seed}\n"
        if i % 3 == 0:
            line = f"    return compute(request.payload[{i}], limit={seed * 1000 + i})\n"
        lines.append(line)
        total += len(line)
        i += 1
    path.write_text("".join(lines)[:size], encoding="utf-8")
    return path


def prompt_chars(body: dict[str, Any]) -> int:
    """Characters of text in a chat-completions request's messages (what the model reads)."""
    total = 0
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
    return total


def wire_bytes(body: dict[str, Any]) -> bytes:
    """The request's messages as JSON bytes, in the order the provider reads (and caches) them."""
    return json.dumps(body.get("messages", []), ensure_ascii=False, separators=(",", ":")).encode()


FILE_BLOCK = re.compile(r"--- BEGIN FILE: (\S+) \([^)]*\) ---\n.*?\n--- END FILE: \1 ---", re.DOTALL)


def file_blocks(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(path, characters) of every embedded file block in a request, markers and line numbers included."""
    text = "".join(m.get("content", "") for m in body.get("messages", []) if isinstance(m.get("content"), str))
    return [(m.group(1), len(m.group(0))) for m in FILE_BLOCK.finditer(text)]


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the byte-identical prefix of a and b (binary search over slice comparisons)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


async def continuation_cost(bench: Bench) -> RowResult:
    sizes = bench.sizes
    folder = bench.workdir / "continuation"
    folder.mkdir(exist_ok=True)
    shared = [source_file(folder / f"module_{i}.py", sizes.file_bytes, i) for i in range(5)]
    client = await bench.session("quorum")
    bench.provider(0.0)
    thread_id: str | None = None
    passed_bytes = 0
    for turn in range(1, sizes.turns + 1):
        new = source_file(folder / f"note_{turn}.py", sizes.small_file_bytes, 100 + turn)
        files = [*shared, new]
        arguments: dict[str, Any] = {
            "prompt": f"Turn {turn}: what changed in {new.name}, and does it fit the five modules?",
            "absolute_file_paths": [str(p) for p in files],
        }
        if thread_id:
            arguments["continuation_id"] = thread_id
        body, is_error = await call(client, "chat", arguments)
        if is_error:
            raise RuntimeError(f"turn {turn} failed: {str(body.get('content'))[:300]}")
        thread_id = (body.get("continuation_offer") or {}).get("continuation_id") or thread_id
        passed_bytes += sum(p.stat().st_size for p in files)
    recorded = await finished_requests(bench, sizes.turns)
    bodies = [r["body"] for r in recorded]
    chars = [prompt_chars(b) for b in bodies]
    wires = [wire_bytes(b) for b in bodies]
    prefixes = [100 * common_prefix(prev, cur) / len(prev) for prev, cur in zip(wires, wires[1:])]
    ratio = sum(chars) / passed_bytes
    blocks = [file_blocks(b) for b in bodies]
    size_of = {str(p): p.stat().st_size for p in folder.iterdir()}
    embedded_raw = sum(size_of.get(path, 0) for bs in blocks for path, _ in bs)
    block_chars = sum(n for bs in blocks for _, n in bs)
    lines = [
        Line(f"continuation, {sizes.turns} turns: prompt chars ÷ file bytes", ratio, 1.0, "×",
             f"≤ {RATIO_TARGET}", passed=ratio <= RATIO_TARGET),
        Line("  shared prefix with previous request, min (%)", min(prefixes), 100.0, "%",
             f"≥ {PREFIX_TARGET:g} %", passed=min(prefixes) >= PREFIX_TARGET),
        Line("  shared prefix with previous request, median (%)", median(prefixes), 100.0, "%",
             f"≥ {PREFIX_TARGET:g} %", passed=median(prefixes) >= PREFIX_TARGET),
    ]
    details = {
        "provider_requests": len(bodies),
        "file_bytes_passed": passed_bytes,
        "prompt_chars_sent": sum(chars),
        "prompt_chars_per_request": chars,
        "breakdown_chars": {
            "files_as_passed": passed_bytes,
            "earlier_files_re_embedded_from_history": embedded_raw - passed_bytes,
            "file_markers_and_line_numbers": block_chars - embedded_raw,
            "system_prompt_history_and_input": sum(chars) - block_chars,
        },
        "file_blocks_per_request": [len(bs) for bs in blocks],
        "paths_embedded_twice_in_one_request": sum(len(bs) - len({p for p, _ in bs}) for bs in blocks),
        "prefix_pct_per_request": [round(p, 2) for p in prefixes],
    }
    return RowResult("continuation", lines, details)


def _workflow_arguments(tool: Any, round_no: int, files: list[Path], thread_id: str) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        "step": f"Round {round_no}: examined the request path in {files[0].name} for {tool.name}.",
        "step_number": 1,
        "total_steps": 1,
        "next_step_required": False,
        "findings": "handler_* functions retry without backoff; compute() is called with unchecked limits.",
        "relevant_files": [str(f) for f in files],
        "files_checked": [str(f) for f in files],
        "confidence": "high",
        "hypothesis": "Unbounded retries amplify load when compute() fails.",
        "continuation_id": thread_id,
    }
    arguments = fit_to_schema(tool, wanted)
    missing = set((tool.input_schema or {}).get("required", [])) - set(arguments)
    if missing:
        raise RuntimeError(f"{tool.name} requires fields the bench does not send: {', '.join(sorted(missing))}")
    return arguments


async def _tool_thread(bench: Bench, which: str, tools: dict[str, Any], files: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """chat → analyze → codereview → debug, round after round, on one thread: (calls made, provider requests)."""
    client = await bench.session(which)
    bench.provider(0.0)
    thread_id = ""
    calls_made: list[dict[str, Any]] = []
    for round_no in range(1, bench.sizes.cross_rounds + 1):
        for name in ("chat", *WORKFLOW_TOOLS):
            if name == "chat":
                arguments: dict[str, Any] = {"prompt": f"Round {round_no}: what does {files[0].name} do?",
                                             "absolute_file_paths": [str(f) for f in files]}
                if thread_id:
                    arguments["continuation_id"] = thread_id
            else:
                arguments = _workflow_arguments(tools[name], round_no, files, thread_id)
            body, is_error = await call(client, name, arguments)
            offered = (body.get("continuation_offer") or {}).get("continuation_id")
            same_thread = not thread_id or offered in (None, thread_id)
            calls_made.append({"tool": name, "error": is_error, "status": body.get("status"),
                               "same_thread": same_thread,
                               "message": str(body.get("content", ""))[:200] if is_error else ""})
            thread_id = thread_id or offered or ""
    return calls_made, await finished_requests(bench, 0)


def prefix_shares(bodies: list[dict[str, Any]]) -> list[float]:
    """Per request after the first: its byte-identical prefix with the previous one, as % of the previous."""
    wires = [wire_bytes(b) for b in bodies]
    return [100 * common_prefix(prev, cur) / len(prev) for prev, cur in zip(wires, wires[1:])]


def instructions_after_material(body: dict[str, Any]) -> bool:
    """Whether the request ends with a system message of its own (the tool's instructions after the material)."""
    messages = body.get("messages", [])
    return len(messages) >= 3 and messages[-1].get("role") == "system" and messages[0].get("role") == "system" \
        and messages[-1].get("content") != messages[0].get("content")


async def cross_tool_thread(bench: Bench) -> RowResult:
    tools = await listed_tools(bench)
    missing = [name for name in WORKFLOW_TOOLS if name not in tools]
    label = "cross-tool thread: failed calls"
    if missing:
        message = f"{NOT_REGISTERED}: {', '.join(missing)}"
        return RowResult("cross_tool", [Line(label, None, None, "calls", "0 failures", note=message)],
                         status="n/a", message=message)
    folder = bench.workdir / "cross"
    folder.mkdir(exist_ok=True)
    files = [source_file(folder / f"service_{i}.py", bench.sizes.file_bytes, 7 + i) for i in range(5)]
    calls_made, recorded = await _tool_thread(bench, "quorum", tools, files)
    bodies = [r["body"] for r in recorded]
    sizes = [len(json.dumps(b).encode()) for b in bodies]
    failures = sum(1 for c in calls_made if c["error"] or not c["same_thread"])
    embeds = [[path for path, _ in file_blocks(b)] for b in bodies]
    twice = sum(len(paths) - len(set(paths)) for paths in embeds)
    shares = prefix_shares(bodies)
    placed = sum(instructions_after_material(b) for b in bodies)
    # The same thread on a local server, whose chat template may refuse a later system message: there the
    # instructions join the leading system text, so requests of different tools differ from their start.
    _, local_recorded = await _tool_thread(bench, "quorum_local", tools, files)
    local_shares = prefix_shares([r["body"] for r in local_recorded])
    lines = [
        Line(f"{label} ({len(calls_made)} calls, one continuation_id)", failures, None, "calls", "0 failures",
             passed=failures == 0 and twice == 0,
             note=f"{len(recorded)} provider requests; a file embedded twice in one request: {twice} times"),
        Line("  shared prefix with previous request (another tool), min (%)", min(shares), 100.0, "%",
             f"≥ {PREFIX_TARGET:g} %", passed=min(shares) >= PREFIX_TARGET,
             note=f"5 files of {bench.sizes.file_bytes // 1024} KB; the tool's instructions follow the material as "
                  f"a system message in {placed}/{len(bodies)} requests"),
        Line("  shared prefix with previous request (another tool), median (%)", median(shares), 100.0, "%",
             f"≥ {PREFIX_TARGET:g} %", passed=median(shares) >= PREFIX_TARGET),
        Line("  same thread on a local server (instructions lead), median (%)", median(local_shares), None, "%",
             "reported"),
        Line("  bytes per provider request, median", median(sizes) if sizes else None, None, "bytes", "reported",
             note=f"first {sizes[0]:,} B, last {sizes[-1]:,} B" if sizes else ""),
    ]
    by_tool: dict[str, list[int]] = {}
    if len(sizes) == len(calls_made):  # one provider request per call: attribute each to its tool
        for made, size in zip(calls_made, sizes):
            by_tool.setdefault(made["tool"], []).append(size)
    details = {"calls": calls_made, "request_bytes": sizes, "files_embedded_per_request": [len(e) for e in embeds],
               "median_bytes_by_tool": {tool: median(v) for tool, v in by_tool.items()},
               "request_models": [b.get("model") for b in bodies],
               "prefix_pct_per_request": [round(x, 2) for x in shares],
               "local_server_prefix_pct_per_request": [round(x, 2) for x in local_shares],
               "instructions_after_material": placed}
    return RowResult("cross_tool", lines, details)
