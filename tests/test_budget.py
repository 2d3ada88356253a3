"""Token allocation: exact splits for common windows and invariants for every window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utils.prompting.budget import LARGE_WINDOW, Allocation, allocate, response_cap

# (window, max_output) -> (response, input, files, history, reserve)
TABLE = [
    (8_192, 4_096, (1_638, 6_554, 1_821, 2_733, 2_000)),
    (32_768, 8_192, (6_553, 26_215, 8_913, 13_370, 3_932)),
    (128_000, 16_384, (16_384, 111_616, 37_949, 56_925, 16_742)),
    (200_000, 64_000, (40_000, 160_000, 54_400, 81_600, 24_000)),
    (400_000, 128_000, (60_000, 340_000, 139_400, 168_600, 32_000)),
    (1_048_576, 65_536, (65_536, 983_040, 493_072, 457_968, 32_000)),
    (2_000_000, 32_768, (32_768, 1_967_232, 1_034_377, 900_855, 32_000)),
]


@pytest.mark.parametrize(("window", "max_output", "expected"), TABLE, ids=[f"{w // 1000}K" for w, _, _ in TABLE])
def test_common_windows_split_as_tabled(window: int, max_output: int, expected: tuple[int, ...]) -> None:
    a = allocate(window, max_output)
    assert (a.response_tokens, a.input_tokens, a.files_tokens, a.history_tokens, a.reserve_tokens) == expected


@pytest.mark.parametrize("window", [8_192, 32_768, 128_000, 200_000, 299_999])
def test_small_windows_favour_history_over_files(window: int) -> None:
    a = allocate(window, 1_000_000)
    assert a.history_tokens > a.files_tokens
    assert a.response_tokens == window // 5  # a fifth of the window stays free for the answer


@pytest.mark.parametrize("window", [1_000_000, 1_048_576, 2_000_000])
def test_large_windows_give_files_at_least_as_much_as_history(window: int) -> None:
    a = allocate(window, 1_000_000)
    assert a.files_tokens >= a.history_tokens
    assert a.response_tokens == window // 10


def test_response_never_exceeds_the_models_output_limit() -> None:
    assert allocate(1_000_000, 8_192).response_tokens == 8_192


def test_response_cap_does_not_drop_where_the_small_and_large_rules_meet() -> None:
    caps = [response_cap(w) for w in (LARGE_WINDOW - 1, LARGE_WINDOW, 450_000, 600_000, 600_010)]
    assert caps == sorted(caps)
    assert caps[1] == caps[2] == caps[3] == 60_000


def test_a_model_without_output_room_gets_the_whole_window_as_prompt() -> None:
    a = allocate(8_192, 0)
    assert (a.response_tokens, a.input_tokens) == (0, 8_192)


def test_a_window_smaller_than_the_minimum_reserve_is_all_reserve() -> None:
    a = allocate(1_000, 100)
    assert (a.files_tokens, a.history_tokens, a.reserve_tokens) == (0, 0, a.input_tokens)


@pytest.mark.parametrize(("window", "max_output", "message"), [
    (0, 1_000, "context_window must be positive"),
    (-5, 1_000, "context_window must be positive"),
    (8_192, -1, "max_output_tokens must not be negative"),
])
def test_invalid_limits_are_refused_with_a_hint(window: int, max_output: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        allocate(window, max_output)


windows = st.integers(min_value=1, max_value=4_000_000)
outputs = st.integers(min_value=0, max_value=2_000_000)


@given(windows, outputs)
def test_parts_are_non_negative_and_add_up(window: int, max_output: int) -> None:
    a = allocate(window, max_output)
    assert min(a.response_tokens, a.input_tokens, a.files_tokens, a.history_tokens, a.reserve_tokens) >= 0
    assert a.files_tokens + a.history_tokens + a.reserve_tokens == a.input_tokens
    assert a.input_tokens + a.response_tokens <= a.context_window == window
    assert a.response_tokens <= max_output


@given(windows, windows, outputs)
def test_no_part_shrinks_when_the_window_grows(w1: int, w2: int, max_output: int) -> None:
    small, large = allocate(min(w1, w2), max_output), allocate(max(w1, w2), max_output)
    for field in ("response_tokens", "input_tokens", "files_tokens", "history_tokens", "reserve_tokens"):
        assert getattr(small, field) <= getattr(large, field), field


@given(windows, outputs)
def test_one_more_token_of_window_moves_every_part_by_at_most_one(window: int, max_output: int) -> None:
    a, b = allocate(window, max_output), allocate(window + 1, max_output)
    assert all(0 <= getattr(b, f) - getattr(a, f) <= 1 for f in Allocation.__dataclass_fields__)
