"""Pure prompt assembly: choose files and turns newest-first under budget, present them oldest-first.

Layout is fixed so consecutive requests of a thread share the longest byte-identical prefix:
files (in order of first appearance), then history (chronological), then the new input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from utils.budget import Allocation
from utils.conversation import Turn
from utils.files import FileContent, render_file_block

Counter = Callable[[str], int]


class PromptTooLargeError(ValueError):
    """The new input alone does not fit the model's context window."""


@dataclass(frozen=True)
class EmbeddedFile:
    path: str
    sha256: str
    size: int
    tokens: int
    changed: bool
    from_history: bool


@dataclass(frozen=True)
class Dropped:
    what: str
    reason: str


@dataclass(frozen=True)
class PromptPlan:
    """The user-message text for the provider and an account of what went into it."""

    text: str
    files: tuple[EmbeddedFile, ...]
    turns_included: int
    turns_total: int
    dropped: tuple[Dropped, ...] = ()
    tokens: Mapping[str, int] = field(default_factory=dict)

    def report(self) -> dict[str, object]:
        return {
            "files_embedded": [f.path for f in self.files],
            "files_changed": [f.path for f in self.files if f.changed],
            "history_turns": f"{self.turns_included}/{self.turns_total}",
            "dropped": [{"item": d.what, "reason": d.reason} for d in self.dropped],
            "prompt_tokens_estimate": dict(self.tokens),
        }


def file_references(turns: Sequence[Turn]) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """For each path in the thread: index of first and last reference, and the hash last embedded."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    last_sha: dict[str, str] = {}
    for index, turn in enumerate(turns):
        for ref in turn.files:
            first.setdefault(ref.path, index)
            last[ref.path] = index
            if ref.sha256:
                last_sha[ref.path] = ref.sha256
    return first, last, last_sha


def render_turn(number: int, turn: Turn) -> str:
    via = " · ".join(x for x in (turn.role, turn.tool_name, turn.model) if x)
    lines = [f"--- turn {number} · {via} ---", turn.content.rstrip()]
    if turn.files:
        lines.append("(files: " + ", ".join(ref.path for ref in turn.files) + ")")
    return "\n".join(lines)


def _select_files(
    turns: Sequence[Turn],
    new_files: Sequence[FileContent],
    history_files: Mapping[str, FileContent | None],
    budget: int,
    count: Counter,
    numbered: bool,
) -> tuple[list[tuple[tuple[int, int], str, EmbeddedFile]], list[Dropped], int]:
    _, last, last_sha = file_references(turns)
    base = len(turns)
    # Presentation key: (turn of first mention, position in that turn). Files first mentioned together
    # keep their order whether or not the new call passes them again, so the file block only grows
    # at its end and consecutive requests share a byte-identical prefix.
    slot: dict[str, tuple[int, int]] = {}
    for index, turn in enumerate(turns):
        for pos, ref in enumerate(turn.files):
            slot.setdefault(ref.path, (index, pos))
    # Priority: files of the new call first, then history files by most recent reference.
    order: list[tuple[str, FileContent | None, bool, tuple[int, int]]] = []
    seen: set[str] = set()
    for pos, fc in enumerate(new_files):
        if fc.path in seen:
            continue
        seen.add(fc.path)
        order.append((fc.path, fc, False, slot.get(fc.path, (base, pos))))
    for path in sorted(last, key=lambda p: last[p], reverse=True):
        if path in seen:
            continue
        seen.add(path)
        order.append((path, history_files.get(path), True, slot[path]))

    chosen: list[tuple[tuple[int, int], str, EmbeddedFile]] = []
    dropped: list[Dropped] = []
    used = 0
    for path, maybe, from_history, key in order:
        if maybe is None:
            dropped.append(Dropped(path, "no longer readable"))
            continue
        fc = maybe
        changed = bool(last_sha.get(path)) and last_sha[path] != fc.sha256
        block = render_file_block(fc, changed=changed, numbered=numbered)
        tokens = count(block)
        if used + tokens > budget:
            dropped.append(Dropped(path, f"file budget ({tokens} tokens needed, {budget - used} left)"))
            continue
        used += tokens
        chosen.append((key, block, EmbeddedFile(path, fc.sha256, fc.size, tokens, changed, from_history)))
    chosen.sort(key=lambda item: item[0])
    return chosen, dropped, used


def _select_turns(turns: Sequence[Turn], budget: int, count: Counter) -> tuple[list[str], int]:
    picked: list[str] = []
    used = 0
    for index in range(len(turns) - 1, -1, -1):
        text = render_turn(index + 1, turns[index])
        tokens = count(text)
        if used + tokens > budget:
            break
        used += tokens
        picked.append(text)
    picked.reverse()
    return picked, used


def build_prompt(
    *,
    system_prompt: str,
    turns: Sequence[Turn],
    new_input: str,
    new_files: Sequence[FileContent],
    history_files: Mapping[str, FileContent | None],
    allocation: Allocation,
    count: Counter,
    numbered: bool = True,
) -> PromptPlan:
    """Assemble the provider-facing user text within the allocation."""
    fixed = count(system_prompt) + count(new_input) + 64
    available = allocation.input_tokens - fixed
    if available < 0:
        raise PromptTooLargeError(
            f"The request needs about {fixed} tokens before any file or history, but the model accepts "
            f"{allocation.input_tokens} input tokens. Shorten the prompt or choose a model with a larger context window."
        )
    files_budget = min(allocation.files_tokens, available)
    chosen, dropped, files_used = _select_files(turns, new_files, history_files, files_budget, count, numbered)
    history_budget = min(allocation.history_tokens + (files_budget - files_used), available - files_used)
    history, history_used = _select_turns(turns, history_budget, count)
    omitted = len(turns) - len(history)
    if omitted:
        dropped.append(Dropped(f"{omitted} oldest turn(s)", "history budget"))

    parts: list[str] = []
    if chosen:
        parts.append("=== FILES ===")
        parts.extend(block for _, block, _ in chosen)
        parts.append("=== END FILES ===")
    if history:
        parts.append("=== CONVERSATION SO FAR ===")
        if omitted:
            parts.append(f"({omitted} earlier turn(s) omitted to fit the context window)")
        parts.extend(history)
        parts.append("=== END CONVERSATION ===")
    parts.append("=== NEW REQUEST ===")
    parts.append(new_input)
    return PromptPlan(
        text="\n\n".join(parts),
        files=tuple(e for _, _, e in chosen),
        turns_included=len(history),
        turns_total=len(turns),
        dropped=tuple(dropped),
        tokens={"system_and_input": fixed, "files": files_used, "history": history_used},
    )
