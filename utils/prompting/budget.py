"""Token budget: how a model's context window is split between answer, files and history."""

from __future__ import annotations

from dataclasses import dataclass

# Windows below this keep more room for the answer and favour history over files.
LARGE_WINDOW = 300_000

# Percentages are integers so every split is exact integer arithmetic (the invariants are exact).
_SMALL_RESPONSE_PCT = 20  # of the window, up to LARGE_WINDOW
_LARGE_RESPONSE_PCT = 10  # of the whole window, once that is larger
_RESERVE_PCT = 15  # of the prompt, for the system prompt and the new input
_RESERVE_MIN = 2_000  # a system prompt plus a short request, even in an 8K window
_RESERVE_MAX = 32_000  # a long request (~120K characters) plus the largest system prompt
_SMALL_FILES_PCT = 40  # of the first _SPLIT_BRACKET tokens of content room; history gets the rest
_LARGE_FILES_PCT = 55  # of content room beyond it
_SPLIT_BRACKET = 200_000  # content room of a window just under LARGE_WINDOW


@dataclass(frozen=True)
class Allocation:
    """One request's token plan; files + history + reserve == input, input + response <= window."""

    context_window: int
    response_tokens: int
    input_tokens: int
    files_tokens: int
    history_tokens: int
    reserve_tokens: int


def allocate(context_window: int, max_output_tokens: int) -> Allocation:
    """Split a context window between the answer, the prompt's files, history and a reserve."""
    if context_window <= 0:
        raise ValueError(
            f"context_window must be positive, got {context_window}; "
            "check the model's catalogue entry."
        )
    if max_output_tokens < 0:
        raise ValueError(
            f"max_output_tokens must not be negative, got {max_output_tokens}; "
            "check the model's catalogue entry."
        )
    response = min(max_output_tokens, response_cap(context_window))
    prompt = context_window - response
    reserve = min(prompt, max(_RESERVE_MIN, prompt * _RESERVE_PCT // 100), _RESERVE_MAX)
    files = files_share(prompt - reserve)
    return Allocation(
        context_window=context_window,
        response_tokens=response,
        input_tokens=prompt,
        files_tokens=files,
        history_tokens=prompt - reserve - files,
        reserve_tokens=reserve,
    )


def response_cap(context_window: int) -> int:
    """Most of the window the answer may claim: 20% of small windows, 10% of large ones."""
    # The max() keeps the cap from dropping where the two rules meet (300K-600K stays at 60K).
    small = min(context_window, LARGE_WINDOW) * _SMALL_RESPONSE_PCT // 100
    return max(small, context_window * _LARGE_RESPONSE_PCT // 100)


def files_share(content_tokens: int) -> int:
    """Files' part of the room left for files and history; the rest goes to history."""
    # Bracketed like a tax: 40% of the first 200K, 55% of the rest. Each extra token adds to both
    # parts, so neither files nor history ever shrinks as the window grows (no cliff at 300K).
    low = min(content_tokens, _SPLIT_BRACKET)
    high = max(content_tokens - _SPLIT_BRACKET, 0)
    return (low * _SMALL_FILES_PCT + high * _LARGE_FILES_PCT) // 100
