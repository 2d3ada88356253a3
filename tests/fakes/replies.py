"""Turning a scripted reply (or none) into the concrete answer both wire formats render."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.state import ReplySpec


@dataclass(frozen=True)
class Outcome:
    """The answer to render: text, how it ended and the usage numbers to report.

    `completion_tokens` counts the visible answer only; wire formats that fold reasoning into
    their output count (OpenAI) add `reasoning_tokens` themselves.
    """

    text: str
    blocked: bool
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int


def estimate_tokens(chars: int) -> int:
    """Roughly four characters per token, never zero for non-empty input."""
    return max(1, (chars + 3) // 4) if chars > 0 else 0


def default_text(model: str, number: int, last_user: str) -> str:
    """The deterministic reply used when nothing is scripted."""
    return f"[fake:{model}] reply #{number} to: {last_user[:60]}"


def resolve(spec: ReplySpec | None, *, model: str, number: int, last_user: str, input_chars: int) -> Outcome:
    """Fill in what the script left open with deterministic defaults."""
    spec = spec or ReplySpec()
    if spec.empty or spec.blocked or spec.prompt_blocked:
        text = ""
    else:
        text = spec.text if spec.text is not None else default_text(model, number, last_user)
    return Outcome(
        text=text,
        blocked=spec.blocked or spec.prompt_blocked,
        finish_reason=spec.finish_reason,
        prompt_tokens=spec.prompt_tokens if spec.prompt_tokens is not None else estimate_tokens(input_chars),
        completion_tokens=spec.completion_tokens if spec.completion_tokens is not None else estimate_tokens(len(text)),
        reasoning_tokens=spec.reasoning_tokens,
        cached_tokens=spec.cached_tokens,
    )


def split_text(text: str, pieces: int = 3) -> list[str]:
    """Cut text into a few stream deltas (at least one, possibly empty)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]
