"""SQLite thread store: the default backend, one WAL-mode file shared by every server process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic_core import to_json

from utils.conversation import Thread, Turn, merge_models, turns_cost, turns_tokens, utcnow
from utils.storage.base import LOCAL_VIEW, StoreError, ThreadFullError, ThreadNotFoundError, ThreadSummary
from utils.storage.records import (
    bounded,
    cutoff_for,
    excerpt,
    first_user_content,
    parse_utc,
    prompt_seed,
    utc_text,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Append-only: each step is the list of statements that moves the schema up one version.
# Never edit or reorder a released step; add a new one. PRAGMA user_version records the count applied.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            parent_id TEXT,
            tool_name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            initial_request TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE turns (
            thread_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            turn TEXT NOT NULL,
            PRIMARY KEY (thread_id, seq)
        ) WITHOUT ROWID""",
    ),
    (
        # Denormalised summary columns so `list` never reads turn bodies; backfilled from old rows.
        "CREATE INDEX threads_by_updated_at ON threads (updated_at)",
        "ALTER TABLE threads ADD COLUMN turn_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE threads ADD COLUMN first_prompt TEXT",
        "ALTER TABLE threads ADD COLUMN models TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE threads ADD COLUMN total_cost_usd REAL NOT NULL DEFAULT 0",
        """UPDATE threads SET
            turn_count = (SELECT count(*) FROM turns WHERE thread_id = threads.id),
            total_cost_usd = coalesce((SELECT sum(coalesce(json_extract(turn, '$.metadata.cost_usd'), 0))
                                       FROM turns WHERE thread_id = threads.id), 0),
            models = coalesce((SELECT json_group_array(model) FROM (
                                 SELECT json_extract(turn, '$.model') AS model, min(seq) AS first_seq
                                 FROM turns WHERE thread_id = threads.id
                                   AND coalesce(json_extract(turn, '$.model'), '') != ''
                                 GROUP BY model ORDER BY first_seq)), '[]'),
            first_prompt = substr(coalesce(
                nullif(json_extract(initial_request, '$.prompt'), ''),
                nullif(json_extract(initial_request, '$.step'), ''),
                (SELECT json_extract(turn, '$.content') FROM turns
                 WHERE thread_id = threads.id AND json_extract(turn, '$.role') = 'user'
                 ORDER BY seq LIMIT 1)), 1, 2000)""",
    ),
    (
        # Token totals for `list`, kept like the cost total; backfilled from the turns already stored.
        "ALTER TABLE threads ADD COLUMN total_tokens INTEGER NOT NULL DEFAULT 0",
        """UPDATE threads SET total_tokens = coalesce((
            SELECT sum(coalesce(json_extract(turn, '$.metadata.tokens.input'), 0)
                       + coalesce(json_extract(turn, '$.metadata.tokens.output'), 0))
            FROM turns WHERE thread_id = threads.id), 0)""",
    ),
    (
        # The principal each thread belongs to; threads stored before owners existed are the local user's.
        "ALTER TABLE threads ADD COLUMN owner TEXT NOT NULL DEFAULT 'local'",
        "CREATE INDEX threads_by_owner ON threads (owner, updated_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


# --- schema ---------------------------------------------------------------------------------------


@contextmanager
def _transaction(conn: sqlite3.Connection, *, write: bool) -> Iterator[None]:
    """BEGIN IMMEDIATE for writers takes the write lock up front, so no upgrade deadlock can occur."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to `target` in one transaction; return how many were applied."""
    if schema_version(conn) >= target:
        return 0
    with _transaction(conn, write=True):
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = schema_version(conn)
        for step in MIGRATIONS[current:target]:
            for statement in step:
                conn.execute(statement)
        if current < target:
            conn.execute(f"PRAGMA user_version = {int(target)}")
    applied = max(0, target - current)
    if applied:
        logger.info("migrated thread database from schema %d to %d", current, target)
    return applied


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit; check_same_thread=False lets close() run anywhere.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA synchronous = NORMAL")
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
_SUMMARY = "id, tool_name, created_at, updated_at, turn_count, first_prompt, models, total_cost_usd, total_tokens"


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
            with _transaction(conn, write=False):  # one snapshot for header and turns
                return self._load(conn, thread_id, owners)

        return await self._run(work)

    # -- writes --

    async def create(self, thread: Thread) -> Thread:
        seed = prompt_seed(thread.initial_request)
        first = seed if seed is not None else first_user_content(thread.turns)
        header = (
            thread.thread_id,
            thread.parent_id,
            thread.tool_name,
            utc_text(thread.created_at),
            utc_text(thread.updated_at),
            to_json(thread.initial_request).decode(),
            to_json(thread.state).decode(),
            len(thread.turns),
            first,
            json.dumps(merge_models((), thread.turns)),
            turns_cost(thread.turns),
            turns_tokens(thread.turns),
            thread.owner,
        )
        turn_rows = [(thread.thread_id, seq, t.model_dump_json()) for seq, t in enumerate(thread.turns)]

        def work(conn: sqlite3.Connection) -> None:
            with _transaction(conn, write=True):
                # Same id means replace, as the in-memory store does.
                conn.execute("DELETE FROM turns WHERE thread_id = ?", (thread.thread_id,))
                conn.execute("DELETE FROM threads WHERE id = ?", (thread.thread_id,))
                conn.execute(
                    "INSERT INTO threads (id, parent_id, tool_name, created_at, updated_at, initial_request,"
                    " state, turn_count, first_prompt, models, total_cost_usd, total_tokens, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        added_cost = turns_cost(turns)
        added_tokens = turns_tokens(turns)
        new_first = first_user_content(turns)

        def work(conn: sqlite3.Connection) -> Thread:
            with _transaction(conn, write=True):
                row = conn.execute(
                    f"SELECT turn_count, state, first_prompt, models FROM threads WHERE id = ? AND updated_at > ? AND {mine}",
                    (thread_id, utc_text(cutoff_for(self.ttl)), *names),
                ).fetchone()
                if row is None:
                    raise ThreadNotFoundError(thread_id)
                count, old_state, first, models = row
                if count + len(bodies) > max_turns:
                    raise ThreadFullError(thread_id, max_turns)
                conn.executemany(
                    "INSERT INTO turns (thread_id, seq, turn) VALUES (?, ?, ?)",
                    [(thread_id, count + i, body) for i, body in enumerate(bodies)],
                )
                conn.execute(
                    "UPDATE threads SET state = ?, updated_at = ?, turn_count = ?, first_prompt = ?,"
                    " models = ?, total_cost_usd = total_cost_usd + ?, total_tokens = total_tokens + ? WHERE id = ?",
                    (
                        json.dumps({**json.loads(old_state), **patch}),
                        utc_text(utcnow()),
                        count + len(bodies),
                        first if first is not None else new_first,
                        json.dumps(merge_models(json.loads(models), turns)),
                        added_cost,
                        added_tokens,
                        thread_id,
                    ),
                )
                return self._load(conn, thread_id, owners)

        return await self._run(work)

    async def delete(self, thread_id: str, *, owners: Sequence[str] = LOCAL_VIEW) -> bool:
        mine, names = _among(owners)

        def work(conn: sqlite3.Connection) -> bool:
            with _transaction(conn, write=True):
                if conn.execute(f"DELETE FROM threads WHERE id = ? AND {mine}", (thread_id, *names)).rowcount == 0:
                    return False
                conn.execute("DELETE FROM turns WHERE thread_id = ?", (thread_id,))
                return True

        return await self._run(work)

    async def expire(self) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cutoff = utc_text(cutoff_for(self.ttl))
            with _transaction(conn, write=True):
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
            return [
                ThreadSummary(
                    thread_id=r[0],
                    tool_name=r[1],
                    created_at=parse_utc(r[2]),
                    updated_at=parse_utc(r[3]),
                    turn_count=r[4],
                    first_prompt=excerpt(r[5]),
                    models=tuple(json.loads(r[6])),
                    total_cost_usd=round(r[7], 6),
                    total_tokens=int(r[8]),
                )
                for r in rows
            ]

        return await self._run(work)

    async def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
