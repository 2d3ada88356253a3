"""Rendered file blocks, rendered history turns and token counts, each computed once per content.

A continuation turn re-sends every file and turn of its thread; rendering and counting them again is most of
what such a turn would cost. Keys are the content itself (a file's sha256, a turn's fields), so a changed file
or an edited turn is simply a new entry; the caches are bounded by the characters they hold.
"""

from __future__ import annotations

from collections.abc import Callable

from utils.conversations.turns import Turn
from utils.gate.files import FileContent, render_file_block
from utils.lru import SizedLru
from utils.prompting.builder import render_turn
from utils.prompting.tokens import Tokenizer, count_tokens

TokenCounter = Callable[[str, Tokenizer], int]

# Shorter texts (a prompt, a short turn) are counted in microseconds; caching them would only hold memory.
MIN_CACHED_CHARS = 1_024


class RenderCache:
    """Memoised `render_file_block`, `render_turn` and `count_tokens` for prompt assembly."""

    def __init__(self, max_chars: int = 16_000_000, counter: TokenCounter = count_tokens) -> None:
        self._counter = counter
        self._blocks: SizedLru[str] = SizedLru(max_chars)
        self._turns: SizedLru[str] = SizedLru(max_chars // 4)
        self._counts: SizedLru[int] = SizedLru(max_chars)

    def block(self, fc: FileContent, changed: bool, numbered: bool) -> str:
        key = (fc.path, fc.sha256, fc.redactions, changed, numbered)
        found = self._blocks.get(key)
        if found is None:
            found = render_file_block(fc, changed=changed, numbered=numbered)
            self._blocks.put(key, found, len(found))
        return found

    def turn(self, number: int, turn: Turn) -> str:
        key = (number, turn.role, turn.tool_name, turn.model, turn.content, tuple(r.path for r in turn.files))
        found = self._turns.get(key)
        if found is None:
            found = render_turn(number, turn)
            self._turns.put(key, found, len(found))
        return found

    def count(self, text: str, tokenizer: Tokenizer) -> int:
        # The same text object comes back from the block and turn caches, and a str caches its own hash,
        # so a hit costs a dictionary lookup, not a pass over the text.
        if len(text) < MIN_CACHED_CHARS:
            return self._counter(text, tokenizer)
        key = (tokenizer, text)
        found = self._counts.get(key)
        if found is None:
            found = self._counter(text, tokenizer)
            self._counts.put(key, found, len(text))
        return found
