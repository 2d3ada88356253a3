"""SQLite thread store: the default backend, one WAL-mode file shared by every server process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic_core import to_json

from utils.conversations.storage.base import LOCAL_VIEW, StoreError, ThreadFullError, ThreadNotFoundError, ThreadSummary
from utils.conversations.storage.records import bounded, cutoff_for, parse_utc, utc_text
from utils.conversations.turns import Thread, Turn, has_room, utcnow
from utils.conversations.storage.sqlite_migrations import (
    TOTALS, TOTALS_SET, migrate, totals_from, totals_row, transaction,
)
from utils.conversations.storage.summary import totals_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SUMMARY = f"id, tool_name, created_at, updated_at, {TOTALS}"


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit; check_same_thread=False lets close() run anywhere.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA synchronous = NORMAL")
    # Deleted or rewritten rows are zeroed, not left in free pages: a redacted or deleted thread leaves no trace.
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def _enable_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch the file to WAL, retrying: the switch can report "locked" without waiting on busy_timeout."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline, pause = time.monotonic() + timeout_s, 0.005
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)  # a worker thread, never the event loop
            pause = min(pause * 2, 0.1)
    if mode != "wal":
        logger.warning("thread database stays in %s journal mode; concurrent writers will wait longer", mode)


def _prepare_file(path: Path) -> None:
    """Create the parent directories and an owner-only database file (WAL/SHM files inherit its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


# --- the store ------------------------------------------------------------------------------------

_HEADER = "parent_id, tool_name, created_at, updated_at, initial_request, state, owner"


def _among(owners: Sequence[str]) -> tuple[str, list[str]]:
    """An `owner IN (...)` condition and its parameters (no owners: nothing matches)."""
    names = list(dict.fromkeys(owners))
    return (f"owner IN ({', '.join('?' * len(names))})" if names else "0"), names
class SqliteThreadStore:
    """ThreadStore over one SQLite file; blocking calls run in worker threads, one connection each."""

    def __init__(self, path: Path, ttl: timedelta, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path).expanduser()
        self.ttl = ttl
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._ready = False
        self._closed = False

    def _conn(self) -> sqlite3.Connection:
        """This worker thread's connection; the first one made also prepares the file and schema."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise StoreError("The SQLite thread store is closed; open a new one.")
            if not self._ready:
                _prepare_file(self.path)
            conn = _connect(self.path, self._busy_timeout_ms)
            try:
                if not self._ready:
                    _enable_wal(conn, self._busy_timeout_ms / 1000)
                    migrate(conn)
                    self._ready = True
            except BaseException:
                conn.close()
                raise
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("The SQLite thread store is closed; open a new one.")
        try:
            return fn(self._conn())
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"The conversation database {self.path} could not be used ({exc}). "
                "Check that the file is writable and not on a network drive, then retry."
            ) from exc

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._call, fn)

    # -- reads --

    def _load(self, conn: sqlite3.Connection, thread_id: str, owners: Sequence[str]) -> Thread:
        mine, names = _among(owners)
        row = conn.execute(
            f"SELECT {_HEADER} FROM threads WHERE id = ? AND updated_at > ? AND {mine}",
            (thread_id, utc_text(cutoff_for(self.ttl)), *names),
        ).fetchone()
        if row is None:
            raise ThreadNotFoundError(thread_id)
        rows = conn.execute("SELECT turn FROM turns WHERE thread_id = ? ORDER BY seq", (thread_id,))
        return Thread(
            thread_id=thread_id,
            parent_id=row[0],
            tool_name=row[1],
            created_at=parse_utc(row[2]),
            updated_at=parse_utc(row[3]),
            initial_request=json.loads(row[4]),
            state=json.loads(row[5]),
            owner=row[6],
            turns=tuple(Turn.model_validate_json(text) for (text,) in rows),
        )

    async def get(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> Thread:
        def work(conn: sqlite3.Connection) -> Thread:
            with transaction(conn, write=False):  # one snapshot for header and turns
                return self._load(conn, thread_id, owners)

        return await self._run(work)

    # -- writes --

    async def create(self, thread: Thread) -> Thread:
        header = (
            thread.thread_id,
            thread.parent_id,
            thread.tool_name,
            utc_text(thread.created_at),
            utc_text(thread.updated_at),
            to_json(thread.initial_request).decode(),
            to_json(thread.state).decode(),
            thread.owner,
            *totals_row(totals_of(thread)),
        )
        turn_rows = [(thread.thread_id, seq, t.model_dump_json()) for seq, t in enumerate(thread.turns)]

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn, write=True):
                # Same id means replace, as the in-memory store does.
                conn.execute("DELETE FROM turns WHERE thread_id = ?", (thread.thread_id,))
                conn.execute("DELETE FROM threads WHERE id = ?", (thread.thread_id,))
                conn.execute(
                    "INSERT INTO threads (id, parent_id, tool_name, created_at, updated_at, initial_request,"
                    f" state, owner, {TOTALS}) VALUES ({', '.join('?' * len(header))})",
                    header,
                )
                conn.executemany("INSERT INTO turns (thread_id, seq, turn) VALUES (?, ?, ?)", turn_rows)

        await self._run(work)
        return thread

    async def append(
        self, thread_id: str, turns: list[Turn], *, max_turns: int, state: dict[str, Any] | None = None,
        owners: Sequence[str] = LOCAL_VIEW,
    ) -> Thread:
        mine, names = _among(owners)
        bodies = [t.model_dump_json() for t in turns]
        patch = {key: json.loads(to_json(value)) for key, value in (state or {}).items()}

        def work(conn: sqlite3.Connection) -> Thread:
            with transaction(conn, write=True):
                row = conn.execute(
                    f"SELECT state, {TOTALS} FROM threads WHERE id = ? AND updated_at > ? AND {mine}",
                    (thread_id, utc_text(cutoff_for(self.ttl)), *names),
                ).fetchone()
                if row is None:
                    raise ThreadNotFoundError(thread_id)
                old_state, held = row[0], totals_from(row[1:])
                if not has_room(held.turn_count, len(bodies), max_turns):
                    raise ThreadFullError(thread_id, max_turns)
                conn.executemany(
                    "INSERT INTO turns (thread_id, seq, turn) VALUES (?, ?, ?)",
                    [(thread_id, held.turn_count + i, body) for i, body in enumerate(bodies)],
                )
                conn.execute(
                    f"UPDATE threads SET state = ?, updated_at = ?, {TOTALS_SET} WHERE id = ?",
                    (
                        json.dumps({**json.loads(old_state), **patch}),
                        utc_text(utcnow()),
                        *totals_row(held.extended(turns)),
                        thread_id,
                    ),
                )
                return self._load(conn, thread_id, owners)

        return await self._run(work)

    async def delete(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> bool:
        mine, names = _among(owners)

        def work(conn: sqlite3.Connection) -> bool:
            with transaction(conn, write=True):
                if conn.execute(f"DELETE FROM threads WHERE id = ? AND {mine}", (thread_id, *names)).rowcount == 0:
                    return False
                conn.execute("DELETE FROM turns WHERE thread_id = ?", (thread_id,))
                return True

        return await self._run(work)

    async def expire(self) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cutoff = utc_text(cutoff_for(self.ttl))
            with transaction(conn, write=True):
                conn.execute(
                    "DELETE FROM turns WHERE thread_id IN (SELECT id FROM threads WHERE updated_at <= ?)", (cutoff,)
                )
                return conn.execute("DELETE FROM threads WHERE updated_at <= ?", (cutoff,)).rowcount

        return await self._run(work)

    async def list(self, limit: int = 20, offset: int = 0, *, owners: Sequence[str] = LOCAL_VIEW) -> list[ThreadSummary]:
        mine, names = _among(owners)

        def work(conn: sqlite3.Connection) -> list[ThreadSummary]:
            rows = conn.execute(
                f"SELECT {_SUMMARY} FROM threads WHERE updated_at > ? AND {mine} "
                "ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
                (utc_text(cutoff_for(self.ttl)), *names, bounded(limit), bounded(offset)),
            ).fetchall()
            return [ThreadSummary.of(r[0], r[1], parse_utc(r[2]), parse_utc(r[3]), totals_from(r[4:])) for r in rows]

        return await self._run(work)

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
