"""Words of the response envelope that the layers below tools need too: error kinds, Quorum's project folder.

The envelope itself lives in the request pipeline (tools/pipeline/envelope.py); the input gate names its
refusals with these kinds and keeps Quorum's own folder out of what it reads.
"""

from __future__ import annotations

from typing import Literal

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
