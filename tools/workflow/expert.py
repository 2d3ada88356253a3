"""The expert request a workflow ends with, and reading the expert's answer back."""

from __future__ import annotations

import json
import re
from typing import Any

from tools.workflow.spec import ExpertInput, Run, WorkflowSpec
from tools.workflow.state import render_investigation

# Deeper than any real analysis; past it an answer is kept as text, so nothing downstream (JSON encoders,
# the thread store, clients) meets a structure that exhausts its recursion limit.
MAX_JSON_DEPTH = 64

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)

# Said to every expert, whatever the tool: the agent's work is evidence, not truth.
_COMMON = (
    "The agent's steps above are its own account; check them against the files and material provided. "
    "Confirm what holds, correct what does not, and add what it missed. Cite file:line where you can. "
    "If something you need is missing, say exactly which file or fact."
)


def expert_input_text(spec: WorkflowSpec, run: Run, extra: ExpertInput) -> str:
    """The new-request text: the whole investigation, the spec's extra material, then the task."""
    parts = [render_investigation(spec.name, run)]
    for title, body in extra.sections:
        parts.append(f"=== {title} ===\n{body.rstrip()}\n=== END {title} ===")
    parts.append(f"=== YOUR TASK ===\n{spec.expert_brief}\n\n{_COMMON}")
    return "\n\n".join(parts)


def parse_answer(text: str) -> Any:
    """A JSON object or array when the answer is one (fenced or bare), else the text itself."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    for attempt in (candidate, _outermost_object(candidate)):
        if not attempt:
            continue
        try:
            parsed = json.loads(attempt)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder can follow
            continue
        if isinstance(parsed, dict | list) and _depth(parsed) <= MAX_JSON_DEPTH:
            return parsed
    return text


def _depth(value: Any) -> int:
    """How deeply containers nest in a parsed JSON value (iterative: the value may be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _outermost_object(text: str) -> str | None:
    """The span from the first '{' to the last '}', for answers that wrap JSON in a sentence."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else None
