"""The prompt itself through the gate: its size against the transport limit, or its text from prompt.txt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from utils.gate.errors import GateError, InvalidInputError, PromptOverLimitError
from utils.gate.files import read_file
from utils.gate.security import PathPolicy

PROMPT_FILE_NAME = "prompt.txt"


@dataclass(frozen=True)
class PromptInput:
    """The prompt text to use, and the file paths left once prompt.txt was taken out of them."""

    text: str
    paths: tuple[str, ...]
    from_file: bool = False


def check_prompt_size(text: str, limit: int, *, field: str, list_field: str) -> None:
    """Refuse a prompt over the transport limit, saying how to pass it as a file instead."""
    if len(text) > limit:
        raise PromptOverLimitError(
            f"The '{field}' is {len(text):,} characters, over the {limit:,}-character limit for tool arguments "
            f"(QUORUM_MAX_PROMPT_CHARS). Save the full text to a file named {PROMPT_FILE_NAME}, pass its absolute "
            f"path in {list_field}, and put a one-line summary in '{field}'.",
            size=len(text), limit=limit,
        )


def take_prompt_file(
    text: str, paths: Sequence[str], policy: PathPolicy, *, max_bytes: int, limit: int, field: str, list_field: str
) -> PromptInput:
    """The prompt, with a prompt.txt among `paths` read through the gate and put before `text`."""
    named = [p for p in paths if PurePath(p).name == PROMPT_FILE_NAME]
    if not named:
        check_prompt_size(text, limit, field=field, list_field=list_field)
        return PromptInput(text=text, paths=tuple(paths))
    if len(named) > 1:
        raise InvalidInputError(
            f"{list_field}: {len(named)} files named {PROMPT_FILE_NAME} were passed ({', '.join(named)}); Quorum "
            f"reads one prompt file per call. Merge them into one {PROMPT_FILE_NAME}, or rename the others so "
            "they are embedded as ordinary files."
        )
    try:
        content = read_file(named[0], policy, max_bytes=max_bytes)
    except GateError as exc:
        raise exc.about(PROMPT_FILE_NAME) from exc
    if content is None:
        raise InvalidInputError(
            f"{PROMPT_FILE_NAME}: '{named[0]}' is not a text file; pass the text file that holds the prompt."
        )
    merged = f"{content.text}\n\n{text}".strip() if text else content.text
    return PromptInput(text=merged, paths=tuple(p for p in paths if p not in named), from_file=True)
