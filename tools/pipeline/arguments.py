"""Tool arguments as clients really send them: control fields clients inject, and near-miss field names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

# Fields an MCP client adds to every tool call for its own bookkeeping. They are not the caller's request, so
# they are dropped before validation; any other unknown field is still refused. Found by reading each client's
# source and recording its calls (tests/test_client_calls.py replays them):
#   Gemini CLI (0.61): adds `wait_for_previous` (boolean) to every tool schema it shows its model, and passes
#     the model's value through in the MCP call (it orders parallel calls client-side).
#   Claude Code (2.1) and Codex CLI (0.171) send the model's arguments unchanged; their progress tokens travel
#     in the request's `_meta`, never in the arguments.
CLIENT_CONTROL_FIELDS: Mapping[str, str] = {
    "wait_for_previous": "Gemini CLI's flag to run a call after the previous calls of the same turn",
}

# Names agents reach for instead of a real field; difflib catches plain typos, this catches synonyms.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "absolute_file_path": ("absolute_file_paths", "relevant_files"),
    "file_paths": ("absolute_file_paths", "relevant_files"),
    "files": ("absolute_file_paths", "relevant_files"),
    "file": ("absolute_file_paths", "relevant_files"),
    "paths": ("absolute_file_paths", "relevant_files"),
    "file_path": ("absolute_file_paths", "relevant_files"),
    "image": ("images",),
    "image_paths": ("images",),
    "working_directory": ("working_directory_absolute_path",),
    "cwd": ("working_directory_absolute_path",),
    "thread_id": ("continuation_id",),
    "conversation_id": ("continuation_id",),
    "message": ("prompt", "step"),
    "question": ("prompt", "step"),
    "query": ("prompt", "step"),
    "cli": ("cli_name",),
}


def without_control_fields(arguments: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """`arguments` minus the client control fields the tool does not itself declare."""
    own = set(fields)
    return {k: v for k, v in arguments.items() if k not in CLIENT_CONTROL_FIELDS or k in own}


def meant_field(name: str, fields: Iterable[str]) -> str | None:
    """The real field a near-miss name was most likely meant to be, if any."""
    known = list(fields)
    for candidate in FIELD_ALIASES.get(name.lower(), ()):
        if candidate in known:
            return candidate
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.75)
    return close[0] if close else None


def describe_validation(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line per bad field: which field, and why (and, for an unknown one, which field was meant)."""
    fields = list(model.model_fields) if model is not None else []
    lines = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(arguments)"
        if item["type"] == "extra_forbidden":
            meant = meant_field(field, fields) if len(item["loc"]) == 1 else None
            hint = f"; did you mean '{meant}'?" if meant else "; remove it"
            lines.append(f"'{field}' is not a field of this tool{hint}")
        elif item["type"] == "missing":
            lines.append(f"'{field}' is required")
        else:
            lines.append(f"'{field}': {item['msg']} (got {str(item.get('input'))[:80]!r})")
    return "Invalid arguments: " + "; ".join(lines) + ". Fix these and call again (the tool's input schema lists every field)."
