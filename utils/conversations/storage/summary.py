"""A thread's list summary (turns, first prompt, models, cost, tokens): computed here once, at write time.

Every store persists the totals it is handed and reads them back for `list`; none recomputes them in SQL
or Lua, so a new summary field is added here and stored, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from utils.conversations.storage.records import first_user_content, prompt_seed
from utils.conversations.turns import Thread, Turn, merge_models, turns_cost, turns_tokens


@dataclass(frozen=True)
class Totals:
    """What `list` shows of a thread besides its header; `first_prompt` is the raw stored text (excerpted on read)."""

    turn_count: int = 0
    first_prompt: str | None = None
    models: tuple[str, ...] = ()
    cost_usd: float = 0.0
    tokens: int = 0

    def extended(self, turns: Sequence[Turn]) -> Totals:
        """The totals once `turns` are appended."""
        return replace(
            self,
            turn_count=self.turn_count + len(turns),
            first_prompt=self.first_prompt if self.first_prompt is not None else first_user_content(turns),
            models=tuple(merge_models(self.models, turns)),
            cost_usd=self.cost_usd + turns_cost(turns),
            tokens=self.tokens + turns_tokens(turns),
        )


def opening_totals(initial_request: Mapping[str, Any]) -> Totals:
    """A new thread's totals before any turn: the prompt its first request gives, if any."""
    return Totals(first_prompt=prompt_seed(initial_request))


def totals_of(thread: Thread) -> Totals:
    return opening_totals(thread.initial_request).extended(thread.turns)
