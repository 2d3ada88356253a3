"""A least-recently-used map bounded by the characters its values hold, safe to share between threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

# What an entry costs beyond its value's characters (key tuple, node, boxes), so many tiny entries stay bounded.
ENTRY_OVERHEAD = 128


class SizedLru(Generic[V]):
    """Keeps the most recently used entries whose sizes add up to at most `max_size`."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # file reads run in worker threads

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        size += ENTRY_OVERHEAD
        if size > self.max_size:
            return  # one huge entry must not flush everything else
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._entries[key] = (value, size)
            self._size += size
            while self._size > self.max_size:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped

    def __len__(self) -> int:
        return len(self._entries)
