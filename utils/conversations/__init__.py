"""Threads: the conversation model (turns) and the stores that keep them (storage/, with the SQLite migrations)."""
