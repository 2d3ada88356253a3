"""Pure prompt assembly: choose files and turns newest-first under budget, present them oldest-first.

Layout is fixed so consecutive requests of a thread share the longest byte-identical prefix:
files (in order of first appearance), then history (chronological), then the new input. Files passed
in the call itself must all fit: when they cannot, the call is refused before any model is paid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import functools
from dataclasses import dataclass, field

from utils.conversations.turns import Turn
from utils.gate.files import FileContent, render_file_block
from utils.prompting.budget import Allocation

Counter = Callable[[str], int]
BlockRenderer = Callable[[FileContent, bool, bool], str]
TurnRenderer = Callable[[int, Turn], str]

_SEPARATOR = "\n\n"


class PromptTooLargeError(ValueError):
    """The new input alone does not fit the model's context window."""


class FilesDoNotFitError(PromptTooLargeError):
    """Files passed in this call need more tokens than the model has room for in one request."""

    def __init__(self, files: Sequence[tuple[str, int]], room: int) -> None:
        self.files = tuple(files)
        self.room = room
        need = sum(tokens for _, tokens in self.files)
        listed = ", ".join(f"{path} (~{tokens:,} tokens)" for path, tokens in sorted(self.files, key=lambda f: -f[1]))
        super().__init__(f"the files passed in this call need ~{need:,} tokens and the room left for files is "
                         f"~{max(room, 0):,} tokens: {listed}")


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
    """The user-message text for the provider, in three stable-to-new sections, and what went into it."""

    files_text: str
    history_text: str
    request_text: str
    files: tuple[EmbeddedFile, ...]
    turns_included: int
    turns_total: int
    dropped: tuple[Dropped, ...] = ()
    tokens: Mapping[str, int] = field(default_factory=dict)

    @functools.cached_property
    def sections(self) -> tuple[str, ...]:
        """The text cut after the file block and after the history: the two points a prompt cache can end at.

        The sections concatenate to `text` exactly; each but the last carries its trailing separator.
        """
        present = [s for s in (self.files_text, self.history_text) if s]
        return (*(s + _SEPARATOR for s in present), self.request_text)

    @functools.cached_property
    def text(self) -> str:
        return "".join(self.sections)

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


def _plain_block(fc: FileContent, changed: bool, numbered: bool) -> str:
    return render_file_block(fc, changed=changed, numbered=numbered)


@dataclass(frozen=True)
class _Candidate:
    path: str
    content: FileContent | None
    from_history: bool
    required: bool
    slot: tuple[int, int]


def _candidates(
    turns: Sequence[Turn], new_files: Sequence[FileContent], optional_files: Sequence[FileContent],
    history_files: Mapping[str, FileContent | None],
) -> tuple[list[_Candidate], dict[str, str]]:
    # One pass over the thread's file references: where each path was first mentioned (its place in the
    # file block), when it was last mentioned (its priority), and the hash it had then (to mark changes).
    slot: dict[str, tuple[int, int]] = {}
    last: dict[str, int] = {}
    last_sha: dict[str, str] = {}
    for index, turn in enumerate(turns):
        for pos, ref in enumerate(turn.files):
            slot.setdefault(ref.path, (index, pos))
            last[ref.path] = index
            if ref.sha256:
                last_sha[ref.path] = ref.sha256
    base = len(turns)
    # Presentation key: (turn of first mention, position in that turn). Files first mentioned together
    # keep their order whether or not the new call passes them again, so the file block only grows
    # at its end and consecutive requests share a byte-identical prefix.
    # Priority: files of the new call first, then files a tool adds, then history files by most recent reference.
    order: list[_Candidate] = []
    seen: set[str] = set()
    for required, group in ((True, new_files), (False, optional_files)):
        for fc in group:
            if fc.path not in seen:
                seen.add(fc.path)
                order.append(_Candidate(fc.path, fc, False, required, slot.get(fc.path, (base, len(order)))))
    for path in sorted(last, key=lambda p: last[p], reverse=True):
        if path not in seen:
            seen.add(path)
            order.append(_Candidate(path, history_files.get(path), True, False, slot[path]))
    return order, last_sha


def _select_files(
    candidates: Sequence[_Candidate],
    last_sha: Mapping[str, str],
    budget: int,
    room: int,
    count: Counter,
    numbered: bool,
    render_block: BlockRenderer,
) -> tuple[list[tuple[tuple[int, int], str, EmbeddedFile]], list[Dropped], int]:
    rendered: list[tuple[_Candidate, str, EmbeddedFile]] = []
    dropped: list[Dropped] = []
    for cand in candidates:
        if cand.content is None:
            dropped.append(Dropped(cand.path, "no longer readable"))
            continue
        fc = cand.content
        changed = bool(last_sha.get(cand.path)) and last_sha[cand.path] != fc.sha256
        block = render_block(fc, changed, numbered)
        embedded = EmbeddedFile(cand.path, fc.sha256, fc.size, count(block), changed, cand.from_history)
        rendered.append((cand, block, embedded))
    required = [(c.path, e.tokens) for c, _, e in rendered if c.required]
    if sum(tokens for _, tokens in required) > room:
        raise FilesDoNotFitError(required, room)
    chosen: list[tuple[tuple[int, int], str, EmbeddedFile]] = []
    used = 0
    for cand, block, embedded in rendered:
        # The call's own files may take the whole room (history then yields); the rest keep to the files share.
        limit = room if cand.required else budget
        if used + embedded.tokens > limit:
            dropped.append(Dropped(cand.path, f"file budget ({embedded.tokens} tokens needed, {max(limit - used, 0)} left)"))
            continue
        used += embedded.tokens
        chosen.append((cand.slot, block, embedded))
    chosen.sort(key=lambda item: item[0])
    return chosen, dropped, used


def _select_turns(turns: Sequence[Turn], budget: int, count: Counter, render: TurnRenderer) -> tuple[list[str], int]:
    picked: list[str] = []
    used = 0
    for index in range(len(turns) - 1, -1, -1):
        text = render(index + 1, turns[index])
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
    optional_files: Sequence[FileContent] = (),
    render_block: BlockRenderer = _plain_block,
    render_history_turn: TurnRenderer = render_turn,
) -> PromptPlan:
    """Assemble the provider-facing user text within the allocation.

    `new_files` must all fit (FilesDoNotFitError otherwise); `optional_files` and files from earlier turns
    are dropped, newest kept, when they do not. `system_prompt` is all system text sent (for counting only).
    """
    fixed = count(system_prompt) + count(new_input) + 64
    available = allocation.input_tokens - fixed
    if available < 0:
        raise PromptTooLargeError(
            f"The request needs about {fixed} tokens before any file or history, but the model accepts "
            f"{allocation.input_tokens} input tokens. Shorten the prompt or choose a model with a larger context window."
        )
    files_budget = min(allocation.files_tokens, available)
    candidates, last_sha = _candidates(turns, new_files, optional_files, history_files)
    chosen, dropped, files_used = _select_files(
        candidates, last_sha, files_budget, available, count, numbered, render_block)
    history_budget = min(allocation.history_tokens + max(files_budget - files_used, 0), available - files_used)
    history, history_used = _select_turns(turns, history_budget, count, render_history_turn)
    omitted = len(turns) - len(history)
    if omitted:
        dropped.append(Dropped(f"{omitted} oldest turn(s)", "history budget"))

    files_part: list[str] = []
    if chosen:
        files_part = ["=== FILES ===", *(block for _, block, _ in chosen), "=== END FILES ==="]
    history_part: list[str] = []
    if history:
        history_part.append("=== CONVERSATION SO FAR ===")
        if omitted:
            history_part.append(f"({omitted} earlier turn(s) omitted to fit the context window)")
        history_part.extend(history)
        history_part.append("=== END CONVERSATION ===")
    return PromptPlan(
        files_text=_SEPARATOR.join(files_part),
        history_text=_SEPARATOR.join(history_part),
        request_text=f"=== NEW REQUEST ==={_SEPARATOR}{new_input}",
        files=tuple(e for _, _, e in chosen),
        turns_included=len(history),
        turns_total=len(turns),
        dropped=tuple(dropped),
        tokens={"system_and_input": fixed, "files": files_used, "history": history_used},
    )
