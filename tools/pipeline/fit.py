"""What a caller is told about fitting a model's window: the refusal before any call, the note after one."""

from __future__ import annotations

from providers.registry import Route
from tools.base import ToolError
from utils.prompting.builder import FilesDoNotFitError, PromptPlan


def dropped_note(plan: PromptPlan) -> str:
    """One line saying what of the thread was left out to fit the model's window; empty when nothing was."""
    files = [d.what for d in plan.dropped if d.reason.startswith("file budget")]
    unreadable = [d.what for d in plan.dropped if d.reason == "no longer readable"]
    turns = plan.turns_total - plan.turns_included
    parts = []
    if files:
        parts.append(f"{len(files)} file(s) of the thread did not fit the model's window and were left out (newest kept): "
                     + ", ".join(files))
    if unreadable:
        parts.append(f"{len(unreadable)} earlier file(s) could no longer be read: " + ", ".join(unreadable))
    if turns:
        parts.append(f"the {turns} oldest turn(s) of the conversation were left out to fit")
    if not parts:
        return ""
    return "Note: the model did not see everything: " + "; ".join(parts) + ". Details in metadata.prompt.dropped."


def refusal(exc: FilesDoNotFitError, target: Route, *, alone: bool) -> ToolError:
    """The error for files of this call that `target` has no room for: each file, its tokens, the room, what to do.

    `alone`: the call has only this model (a consensus perspective is one of several).
    """
    spec = target.spec
    listed = "; ".join(f"{path} ~{tokens:,} tokens" for path, tokens in sorted(exc.files, key=lambda f: -f[1]))
    need = sum(tokens for _, tokens in exc.files)
    message = (
        f"The files passed in this call do not fit model '{spec.model_name}' (context window {spec.context_window:,} "
        f"tokens): they need ~{need:,} tokens and one request has room for ~{max(exc.room, 0):,} tokens of files after "
        f"the answer, the instructions and your prompt. Files: {listed}. "
        f"{'No model was called.' if alone else 'This model was not called.'} Choose a model "
        "with a larger context window (listmodels shows each model's window), pass fewer files, or pass an excerpt "
        "of the large file(s)."
    )
    return ToolError(
        "prompt_too_large", message, model=spec.model_name, context_window=spec.context_window,
        room_tokens=max(exc.room, 0), files=[{"path": path, "tokens": tokens} for path, tokens in exc.files],
    )
