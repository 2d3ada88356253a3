"""Choose and open the thread store the settings ask for."""

from __future__ import annotations

from datetime import timedelta

from utils.config.settings import Settings
from utils.conversations.storage.base import StoreError, ThreadStore


def open_store(settings: Settings) -> ThreadStore:
    """Build the configured backend; SQLite (the default) and Redis connect lazily on first use."""
    ttl = timedelta(hours=settings.conversation_timeout_hours)
    if settings.storage == "memory":
        from utils.conversations.storage.memory import MemoryThreadStore

        return MemoryThreadStore(ttl)
    if settings.storage == "redis":
        try:
            from utils.conversations.storage.redis_store import RedisThreadStore

            return RedisThreadStore(settings.redis_url, ttl)
        except ImportError as exc:
            raise StoreError(
                "QUORUM_STORAGE=redis needs the redis client: install it with "
                "`pip install 'quorum-mcp[redis]'`, or set QUORUM_STORAGE=sqlite."
            ) from exc
    from utils.conversations.storage.sqlite import SqliteThreadStore

    return SqliteThreadStore(settings.database_path, ttl)
