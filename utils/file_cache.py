"""Files read once per version: a file whose identity and stat are unchanged is not read or hashed again.

The key is (device, inode, size, mtime_ns, ctime_ns) of the path, not following a final symlink, so a swapped
link or a replaced file misses. As git does for its index, a read is only remembered when the file had not
been modified just before it: a rewrite within the same timestamp tick could otherwise leave the stat unchanged.
"Just before" is 2 s on filesystems with whole-second timestamps (FAT, HFS+, some NFS) and 100 ms elsewhere.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from utils.files import FileContent, read_file
from utils.lru import SizedLru

Reader = Callable[..., FileContent]
StatKey = tuple[int, int, int, int, int]

# Modifications younger than this at read time are not trusted to show in the stat of a later rewrite.
RACY_NS = 2_000_000_000
FINE_RACY_NS = 100_000_000  # sub-second timestamps: far above the coarsest kernel tick (10 ms)
_SECOND = 1_000_000_000


def racy_margin(key: StatKey) -> int:
    """How long after its last change a file's stat can be trusted to reveal the next one."""
    coarse = key[3] % _SECOND == 0 and key[4] % _SECOND == 0
    return RACY_NS if coarse else FINE_RACY_NS


def _stat_key(path: Path) -> StatKey | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileCache:
    """Wraps the file reader: the same (checked) path with the same stat gives the content read before."""

    def __init__(self, max_chars: int = 16_000_000, reader: Reader = read_file,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self._entries: SizedLru[tuple[StatKey, FileContent]] = SizedLru(max_chars)
        self._reader = reader
        self.clock = clock
        self.reads = 0  # reads that went to the disk, for tests and the bench

    def read(self, path: Path, *, max_bytes: int) -> FileContent:
        """The file's content, from the cache when its stat is unchanged; the reader's errors pass through."""
        key = _stat_key(path)
        slot = (str(path), max_bytes)
        if key is not None:
            cached = self._entries.get(slot)
            if cached is not None and cached[0] == key:
                return cached[1]
        started = self.clock()
        self.reads += 1
        content = self._reader(path, max_bytes=max_bytes)
        if key is not None and started - max(key[3], key[4]) > racy_margin(key) and content.size == key[2] \
                and _stat_key(path) == key:
            self._entries.put(slot, (key, content), len(content.text))
        return content
