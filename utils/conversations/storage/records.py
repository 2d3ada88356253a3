"""Row helpers shared by the durable thread stores (SQLite and Redis): time text, expiry, summary fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from utils.conversations.turns import Turn, utcnow

EXCERPT_CHARS = 160
# Backends take row offsets as 64-bit integers; past this no store holds that many threads anyway.
MAX_OFFSET = 2**62
# Raw text kept of a prompt (and of each initial-request field); the excerpt shown is cut from it at read time.
PROMPT_STORE_CHARS = 2_000


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC ISO text, so string order is time order (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def epoch(moment: datetime) -> float:
    """Seconds since the epoch (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def cutoff_for(ttl: timedelta) -> datetime:
    """The update time at or before which a thread is expired."""
    try:
        return utcnow() - ttl
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)


def bounded(offset: int) -> int:
    """A list offset every backend accepts (a huge one simply lists nothing)."""
    return min(max(0, offset), MAX_OFFSET)


def excerpt(text: str | None) -> str:
    return " ".join((text or "").split())[:EXCERPT_CHARS]


def prompt_seed(initial_request: Mapping[str, Any]) -> str | None:
    """The summary prompt the initial request provides, or None to wait for the first user turn."""
    value = initial_request.get("prompt") or initial_request.get("step")
    return str(value)[:PROMPT_STORE_CHARS] if value else None


def first_user_content(turns: Sequence[Turn]) -> str | None:
    return next((t.content[:PROMPT_STORE_CHARS] for t in turns if t.role == "user"), None)
