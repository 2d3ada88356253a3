"""Logging to stderr (stdout carries the protocol on stdio) plus an optional rotating file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_file: Path | None) -> None:
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stderr = logging.StreamHandler()  # defaults to sys.stderr
    stderr.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(stderr)
    if log_file is not None:
        path = log_file.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        rotating.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(rotating)
    # SDK loggers can echo request headers at DEBUG; keep them quieter than ours.
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "google_genai"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
