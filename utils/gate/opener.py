"""Reading one file safely: checked at open time on the descriptor, never past its cap.

The name check (PathPolicy.check) can be raced: between it and the read, a file can be swapped for a
symlink, or a directory on its path for a link elsewhere. So the read itself opens without following
a final symlink, `fstat`s the descriptor (regular file, one name, size under the cap), asks the
kernel where the descriptor really is and re-checks that place against the policy, and only then
reads — from that descriptor, at most cap + 1 bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from utils.gate.errors import FileMissingError, FileTooLargeError, PathRefusedError
from utils.gate.security import PathPolicy

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20
_PROC_FD = Path("/proc/self/fd")


@dataclass(frozen=True)
class Opened:
    """A file read through the gate: where it really is, and its bytes (never more than the cap)."""

    path: Path
    data: bytes


def kind_of(mode: int) -> str:
    """A human name for a non-regular file type."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


class Handle:
    """An open, checked descriptor: where it really is, its fstat, and a bounded read."""

    def __init__(self, fd: int, info: os.stat_result, real: Path, raw: str, cap: int, cap_name: str, advice: str) -> None:
        self.fd, self.info, self.real = fd, info, real
        self._raw, self._cap, self._cap_name, self._advice = raw, cap, cap_name, advice

    def read(self) -> bytes:
        """The whole file, never more than cap + 1 bytes; over the cap is a FileTooLargeError."""
        data = _read(self.fd, self._cap + 1)
        if len(data) > self._cap:  # it grew after fstat
            raise FileTooLargeError(too_large(self._raw, len(data), self._cap, self._cap_name, self._advice),
                                    size=len(data), limit=self._cap)
        return data


@contextlib.contextmanager
def open_checked(
    raw: str, path: Path, policy: PathPolicy, cap: int, *, cap_name: str,
    advice: str = "Pass a smaller file, or an excerpt of this one.",
) -> Iterator[Handle]:
    """Open `path` (already name-checked) and check the descriptor, or raise a GateError; `raw` is how the caller named it."""
    fd = _open(raw, path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(raw, info.st_mode)
        real = _real_path(fd, path, info)
        policy.confine(raw, real)
        if info.st_nlink > 1:
            # Another name of this file may lie anywhere on the same file system, outside every root:
            # nothing on the descriptor says where, so a file with several names is not read.
            raise PathRefusedError(
                f"Refusing {raw!r}: it is a hard link ({info.st_nlink} names for one file), and Quorum cannot tell "
                "whether its other names lie outside the allowed directories. Pass a copy of the file instead."
            )
        if info.st_size > cap:
            raise FileTooLargeError(too_large(raw, info.st_size, cap, cap_name, advice), size=info.st_size, limit=cap)
        yield Handle(fd, info, real, raw, cap, cap_name, advice)
    finally:
        os.close(fd)


def read_checked(
    raw: str, path: Path, policy: PathPolicy, cap: int, *, cap_name: str,
    advice: str = "Pass a smaller file, or an excerpt of this one.",
) -> Opened:
    """Open `path` (already name-checked), check the descriptor and read it whole, or raise a GateError."""
    with open_checked(raw, path, policy, cap, cap_name=cap_name, advice=advice) as handle:
        return Opened(path=handle.real, data=handle.read())


def not_regular(raw: str, mode: int) -> PathRefusedError:
    return PathRefusedError(
        f"Refusing {raw!r}: it is {kind_of(mode)}, not a regular file. Pass regular files only"
        + (" (or the directory itself where a directory is accepted)." if stat.S_ISDIR(mode) else ".")
    )


def too_large(raw: str, size: int, cap: int, cap_name: str, advice: str = "Pass a smaller file.") -> str:
    return f"{raw!r} is {size:,} bytes, over the {cap:,}-byte limit ({cap_name}); nothing of it was read. {advice}"


def _open(raw: str, path: Path) -> int:
    try:
        return os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PathRefusedError(
                f"Refusing {raw!r}: it became a symbolic link after it was checked. Pass the real file's path."
            ) from exc
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileMissingError(
                f"No such file: {raw!r} (it disappeared after it was checked). Check the path and call again."
            ) from exc
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):  # a socket cannot even be opened (ENXIO): name what it is
            raise not_regular(raw, mode) from exc
        raise PathRefusedError(
            f"Cannot open {raw!r}: {exc.strerror or exc}. Pass a file the server can read."
        ) from exc


def _real_path(fd: int, path: Path, info: os.stat_result) -> Path:
    """Where the open descriptor really is, from the kernel; elsewhere, a re-resolved name of the same inode."""
    try:
        return Path(os.readlink(_PROC_FD / str(fd)))
    except OSError:
        pass
    resolved = Path(os.path.realpath(path))
    try:
        again = os.stat(resolved)
    except OSError as exc:
        raise PathRefusedError(f"Cannot confirm where '{path}' is ({exc.strerror}). Pass a stable path.") from exc
    if (again.st_dev, again.st_ino) != (info.st_dev, info.st_ino):
        raise PathRefusedError(f"Refusing '{path}': it changed while it was being opened. Call again.")
    return resolved


def _read(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
