"""The SQLite thread store's schema: its append-only migrations, applied in one transaction per upgrade.

The summary columns hold Totals (utils/conversations/storage/summary.py) as computed in Python; a
migration that needs data work is a Python step, so no summary is ever computed in SQL.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Union

from utils.conversations.storage.summary import Totals, opening_totals
from utils.conversations.turns import Turn
from utils.privacy.redaction import redact_stored_json

logger = logging.getLogger(__name__)

# The summary columns: Totals (utils/conversations/storage/summary) as computed in Python, stored as given.
TOTALS = "turn_count, first_prompt, models, total_cost_usd, total_tokens"
TOTALS_SET = ", ".join(f"{column} = ?" for column in TOTALS.split(", "))


def totals_row(totals: Totals) -> tuple[Any, ...]:
    """Totals as the summary columns store them, in TOTALS order."""
    return totals.turn_count, totals.first_prompt, json.dumps(list(totals.models)), totals.cost_usd, totals.tokens


def totals_from(row: Sequence[Any]) -> Totals:
    """Totals from the summary columns, in TOTALS order."""
    count, first, models, cost, tokens = row
    return Totals(turn_count=int(count), first_prompt=first, models=tuple(json.loads(models)), cost_usd=float(cost),
                  tokens=int(tokens))


def _recompute_totals(conn: sqlite3.Connection) -> None:
    """Fill every thread's summary columns from its turns, with the one Python computation (utils/conversations/storage/summary)."""
    for thread_id, initial_request in conn.execute("SELECT id, initial_request FROM threads").fetchall():
        rows = conn.execute("SELECT turn FROM turns WHERE thread_id = ? ORDER BY seq", (thread_id,))
        turns = [Turn.model_validate_json(text) for (text,) in rows]
        totals = opening_totals(json.loads(initial_request)).extended(turns)
        conn.execute(f"UPDATE threads SET {TOTALS_SET} WHERE id = ?", (*totals_row(totals), thread_id))


def _redact_stored(conn: sqlite3.Connection) -> None:
    """Redact what was stored before redaction covered it: turn contents, first requests and tool state."""
    for thread_id, seq, turn in conn.execute("SELECT thread_id, seq, turn FROM turns").fetchall():
        cleaned = redact_stored_json(turn, turn=True)
        if cleaned is not turn:
            conn.execute("UPDATE turns SET turn = ? WHERE thread_id = ? AND seq = ?", (cleaned, thread_id, seq))
    for thread_id, initial, state in conn.execute("SELECT id, initial_request, state FROM threads").fetchall():
        conn.execute("UPDATE threads SET initial_request = ?, state = ? WHERE id = ?",
                     (redact_stored_json(initial), redact_stored_json(state), thread_id))
    _recompute_totals(conn)  # the first prompt shown by `threads list` comes from the turns


# A step is SQL statements, or a Python function for data work (summaries are computed in Python only).
Step = tuple[Union[str, Callable[[sqlite3.Connection], None]], ...]

# Append-only: each step is what moves the schema up one version. Never reorder a step or change the
# schema it makes; add a new one. PRAGMA user_version records the count applied.
MIGRATIONS: tuple[Step, ...] = (
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
        # Denormalised summary columns so `list` never reads turn bodies (filled by step 5).
        "CREATE INDEX threads_by_updated_at ON threads (updated_at)",
        "ALTER TABLE threads ADD COLUMN turn_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE threads ADD COLUMN first_prompt TEXT",
        "ALTER TABLE threads ADD COLUMN models TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE threads ADD COLUMN total_cost_usd REAL NOT NULL DEFAULT 0",
    ),
    (
        # Token totals for `list`, kept like the cost total (filled by step 5).
        "ALTER TABLE threads ADD COLUMN total_tokens INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # The principal each thread belongs to; threads stored before owners existed are the local user's.
        "ALTER TABLE threads ADD COLUMN owner TEXT NOT NULL DEFAULT 'local'",
        "CREATE INDEX threads_by_owner ON threads (owner, updated_at)",
    ),
    (
        # Summaries recomputed in Python from the stored turns (old turn shapes included); this replaces
        # the SQL backfills steps 2 and 3 once ran, so no summary is computed in SQL any more.
        _recompute_totals,
    ),
    (
        # Secrets stored before every turn, request and state was redacted on the way in are redacted once.
        _redact_stored,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool) -> Iterator[None]:
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
    with transaction(conn, write=True):
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = schema_version(conn)
        for step in MIGRATIONS[current:target]:
            for statement in step:
                if isinstance(statement, str):
                    conn.execute(statement)
                else:
                    statement(conn)
        if current < target:
            conn.execute(f"PRAGMA user_version = {int(target)}")
    applied = max(0, target - current)
    if applied and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        # Upgrades rewrite data (the redaction step): move it into the database file now, so the old pages,
        # secrets included, do not outlive the upgrade in the file until some later checkpoint.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if applied:
        logger.info("migrated thread database from schema %d to %d", current, target)
    return applied
