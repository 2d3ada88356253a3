"""Words that several layers need: error kinds of the response envelope, thinking modes, Quorum's project folder.

The envelope itself lives in the request pipeline (tools/pipeline/envelope.py); the input gate names its
refusals with these kinds and keeps Quorum's own folder out of what it reads.
"""

from __future__ import annotations

from typing import Literal

# How hard a model should think; providers map it onto each API's own control (effort, budget).
ThinkingMode = Literal["minimal", "low", "medium", "high", "max"]

# The folder Quorum writes into inside a project (overflow files); it ignores itself for git.
PROJECT_DIR_NAME = ".quorum"

ErrorKind = Literal[
    "unknown_tool",
    "invalid_arguments",
    "unknown_model",
    "no_provider",
    "unknown_thread",
    "thread_full",
    "path_refused",
    "file_missing",
    "file_too_large",
    "prompt_too_large",
    "provider_error",
    "budget_exceeded",
    "internal_error",
    "storage_error",
    "tool_error",
]
