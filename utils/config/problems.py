"""Configuration problems found at start-up: reported, never fatal.

A bad value in `.env` or a broken model catalogue must not stop the server (the client would only see
"connection closed"). Each problem names where it is (file and line, or variable), what is wrong and how
to fix it; `version`, `listmodels` and any call that needed the broken part repeat it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One thing in the configuration Quorum could not use, and what it did instead."""

    source: str  # a file path, or the environment variable's name
    where: str  # "line 3, column 7", "models[2].context_window", or "" for the whole source
    message: str  # what is wrong
    fix: str  # what to do
    consequence: str  # what Quorum does meanwhile
    models: tuple[str, ...] = ()  # model names this problem hides, when known
    catalogue: bool = False  # a model catalogue (rather than a setting): may explain a missing model

    def describe(self) -> str:
        at = f" ({self.where})" if self.where else ""
        return f"{self.source}{at}: {self.message}. {self.consequence}. Fix: {self.fix}."

    def to_dict(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = {
            "source": self.source, "where": self.where, "problem": self.message, "fix": self.fix,
            "meanwhile": self.consequence,
        }
        if self.models:
            out["models"] = list(self.models)
        return out
