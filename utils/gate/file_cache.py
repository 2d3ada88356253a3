"""Files read once per version: a file whose identity and stat are unchanged is not read, hashed or redacted again.

The gate opens and checks the descriptor on every call (roots, file type, links, size) whatever the cache
holds; only then is the cache asked, keyed by where the descriptor really is and by its fstat (device, inode,
size, mtime_ns, ctime_ns), so a swapped link or a replaced file misses. As git does for its index, a read is
only remembered when the file had not been modified just before it: a rewrite within the same timestamp tick
could otherwise leave the stat unchanged. "Just before" is 2 s on filesystems with whole-second timestamps
(FAT, HFS+, some NFS) and 100 ms elsewhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from utils.lru import SizedLru
from utils.privacy.redaction import Counts

if TYPE_CHECKING:
    from utils.gate.files import FileContent

StatKey = tuple[int, int, int, int, int]

# Modifications younger than this at read time are not trusted to show in the stat of a later rewrite.
RACY_NS = 2_000_000_000
FINE_RACY_NS = 100_000_000  # sub-second timestamps: far above the coarsest kernel tick (10 ms)
_SECOND = 1_000_000_000


def racy_margin(key: StatKey) -> int:
    """How long after its last change a file's stat can be trusted to reveal the next one."""
    coarse = key[3] % _SECOND == 0 and key[4] % _SECOND == 0
    return RACY_NS if coarse else FINE_RACY_NS


def stat_key(info: os.stat_result) -> StatKey:
    """The identity and version of an open file, from its fstat."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class FileCache:
    """What a checked descriptor held the last time its file had this stat: content and redaction counts."""

    def __init__(self, max_chars: int = 16_000_000, clock: Callable[[], int] = time.time_ns) -> None:
        self._entries: SizedLru[tuple[StatKey, FileContent, Counts]] = SizedLru(max_chars)
        self.clock = clock
        self.reads = 0  # reads that went to the disk, for tests and the bench

    def lookup(self, real: Path, max_bytes: int, key: StatKey) -> tuple[FileContent, Counts] | None:
        cached = self._entries.get((str(real), max_bytes))
        if cached is None or cached[0] != key:
            return None
        return cached[1], cached[2]

    def remember(self, real: Path, max_bytes: int, key: StatKey, content: FileContent, counts: Counts,
                 started: int, after: StatKey) -> None:
        """Keep a read made at `started` when the file had settled before it and did not change during it."""
        if after == key and started - max(key[3], key[4]) > racy_margin(key) and content.size == key[2]:
            self._entries.put((str(real), max_bytes), (key, content, counts), len(content.text))
