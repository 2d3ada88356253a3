"""A small PNG of the main ratios (each figure ÷ its target; a bar left of 1.0 meets the target)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# row key, line index, label, target: the figure at that line is divided by the target.
RATIOS: tuple[tuple[str, int, str, str], ...] = (
    ("cold_start", 0, "cold start ÷ (1.2 × bare)", "cold"),
    ("tool_list", 0, "tools/list tokens ÷ 5,000", "tokens"),
    ("per_call", 0, "overhead p50 ÷ 5 ms", "overhead"),
    ("continuation", 0, "continuation chars ÷ (1.05 × file bytes)", "continuation"),
    ("continuation", 1, "90 % ÷ min shared prefix", "prefix"),
    ("consensus", 0, "consensus wall ÷ (1.1 × delay)", "consensus"),
    ("concurrency", 0, "10 parallel wall ÷ (1.15 × delay)", "concurrency"),
    ("memory", 0, "RSS at first mark ÷ 70 MB", "memory"),
)


def _score(kind: str, line: dict[str, Any]) -> float | None:
    q, floor = line.get("quorum"), line.get("floor")
    if q is None:
        return None
    if kind == "cold":
        return q / (1.2 * floor) if floor else None
    if kind == "tokens":
        return q / 5_000
    if kind == "overhead":
        return q / 5.0
    if kind == "continuation":
        return q / 1.05
    if kind == "prefix":
        return 90.0 / q if q else None
    if kind == "consensus":
        return q / (1.1 * floor) if floor else None
    if kind == "concurrency":
        return q / (1.15 * floor) if floor else None
    if kind == "memory":
        return q / 70.0
    return None


def _floor_score(kind: str, line: dict[str, Any]) -> float | None:
    """Where the bare server lands against an absolute target (only targets that are not floor-relative)."""
    floor = line.get("floor")
    if floor is None:
        return None
    return {"overhead": floor / 5.0, "memory": floor / 70.0}.get(kind)


def draw(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {r["row"]: r for r in results["rows"]}
    labels, values, floors = [], [], []
    for row, index, label, kind in RATIOS:
        lines = rows.get(row, {}).get("lines", [])
        value = _score(kind, lines[index]) if len(lines) > index else None
        if value is not None:
            labels.append(label)
            values.append(value)
            floors.append(_floor_score(kind, lines[index]))
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(labels) + 1.5), dpi=110)
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=["#2e7d32" if v <= 1.0 else "#c62828" for v in values])
    ax.set_yticks(y, labels)
    ax.axvline(1.0, color="black", linewidth=1, linestyle="--")
    for yy, v in zip(y, values):
        ax.text(v, yy, f" {v:.2f}", va="center", fontsize=8)
    marked = [(f, yy) for f, yy in zip(floors, y) if f is not None]
    if marked:
        ax.scatter([f for f, _ in marked], [yy for _, yy in marked], marker="x", color="black", zorder=3,
                   label="bare MCP SDK server (floor) on the same scale")
        ax.legend(loc="lower right", fontsize=7)
    ax.set_xlim(0, max([1.2, *values, *(f for f, _ in marked)]) * 1.15)
    machine = results.get("machine", {})
    ax.set_title(f"Quorum bench: each figure ÷ its target (≤ 1 meets it)\n{machine.get('cpus', '?')} cores "
                 f"{machine.get('arch', '')}, Python {machine.get('python', '')}, {results.get('when', '')}", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
