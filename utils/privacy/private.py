"""Files only the server's user can read: owner-only directories and files, never through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


class UnsafeDirectoryError(OSError):
    """A directory Quorum would write into is a symlink or not a directory."""


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) owner-only; tighten it if it exists and is ours; refuse a symlink."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectoryError(f"{path} is not a directory (a symlink or a file); refusing to write there.")
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, text: str, *, replace: bool = False) -> None:
    """Write a new owner-only file (never following a symlink; an existing file is kept unless `replace`)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
