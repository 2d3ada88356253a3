"""Catalogue entries written for PAL / Zen MCP, translated into Quorum's field names.

PAL's `conf/*_models.json` describe models with a flat capability record (its `ModelCapabilities`). Users carry
those files over, so each entry is mapped field by field: what has a meaning in Quorum is renamed or converted,
the rest is set aside and named once in the log. Quorum's own entries pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# PAL name -> Quorum name, same meaning.
RENAMED: Mapping[str, str] = {
    "supports_extended_thinking": "supports_thinking",
    "supports_system_prompts": "supports_system_prompt",
    "use_openai_response_api": "use_responses_api",
    "default_reasoning_effort": "default_effort",
    "deployment_name": "deployment",
    "max_tokens": "max_output_tokens",  # the name Zen used before max_output_tokens
}
# Read to build Quorum's temperature rule (see _temperature).
TEMPERATURE_FIELDS = frozenset({"supports_temperature", "temperature_constraint"})
# Read to split Zen's combined custom/OpenRouter file (see split_custom).
ROUTING_FIELDS = frozenset({"is_custom"})
# Fields only PAL writes: an entry carrying any of them follows PAL's defaults (temperature range 0-2).
PAL_ONLY = frozenset(RENAMED) | TEMPERATURE_FIELDS | ROUTING_FIELDS | {
    "supports_function_calling", "supports_streaming", "allow_code_generation"}

# What an undeclared output limit becomes: a quarter of the window, at most 8,192 tokens.
_OUTPUT_SHARE = 4
_OUTPUT_CEILING = 8_192
_OUTPUT_FLOOR = 256


def output_for_window(context_window: int) -> int:
    """An output limit that leaves most of a window to the prompt (and a slow local model a bounded answer)."""
    return max(min(_OUTPUT_FLOOR, context_window // 2), min(_OUTPUT_CEILING, context_window // _OUTPUT_SHARE))


@dataclass(frozen=True)
class Translated:
    """One entry in Quorum's terms, and the fields that were set aside."""

    entry: dict[str, Any]
    ignored: tuple[str, ...]


def _temperature(raw: Mapping[str, Any]) -> dict[str, Any]:
    """PAL's supports_temperature / temperature_constraint as Quorum's temperature rule."""
    if raw.get("supports_temperature") is False:
        return {"kind": "none"}
    if raw.get("temperature_constraint") == "fixed":
        return {"kind": "fixed", "value": 1.0}
    # PAL's default and its "range" and "discrete" hints all span 0-2; Quorum clamps instead of snapping.
    return {"kind": "range", "min": 0.0, "max": 2.0}


def translate(raw: Mapping[str, Any], provider: str, known: frozenset[str]) -> Translated:
    """Map one catalogue entry onto ModelSpec's fields (`known`); unknown fields are returned, not kept."""
    entry: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in raw.items():
        if key in known and key != "provider":
            entry.setdefault(key, value)
        elif key in RENAMED:
            entry.setdefault(RENAMED[key], value)
        elif key not in TEMPERATURE_FIELDS | ROUTING_FIELDS:
            ignored.append(key)
    pal = bool(PAL_ONLY & raw.keys())
    if pal and "temperature" not in raw:
        entry["temperature"] = _temperature(raw)
    if isinstance(entry.get("aliases"), str):
        entry["aliases"] = [a.strip() for a in entry["aliases"].split(",") if a.strip()]
    if entry.get("supports_thinking") and "thinking_style" not in entry:
        # Gemini takes a thinking budget; every OpenAI-compatible vendor a reasoning effort.
        entry["thinking_style"] = "budget" if provider == "gemini" else "effort"
    elif provider in ("openai", "azure") and raw.get("supports_temperature") is False and "thinking_style" not in entry:
        # PAL marks OpenAI's o-series this way: they refuse max_tokens and take max_completion_tokens, which
        # Quorum sends to models with a reasoning effort setting.
        entry["thinking_style"] = "effort"
    if entry.get("default_effort") is None:
        entry.pop("default_effort", None)
    window = entry.get("context_window")
    if not entry.get("max_output_tokens") and isinstance(window, int) and window > 0:
        entry["max_output_tokens"] = output_for_window(window)  # PAL's 0 means "not stated"
    return Translated(entry=entry, ignored=tuple(ignored))


def split_custom(provider: str, entries: list[Any]) -> tuple[list[Any], int]:
    """Zen's single custom_models.json listed OpenRouter models and local ones (`is_custom: true`) together:
    the custom provider keeps the local ones, OpenRouter the others. Returns (kept, how many were left out)."""
    dicts = [e for e in entries if isinstance(e, dict)]
    if not any("is_custom" in e for e in dicts):
        return entries, 0
    if provider == "custom":
        kept = [e for e in entries if not isinstance(e, dict) or e.get("is_custom") is True]
    elif provider == "openrouter":
        kept = [e for e in entries if not isinstance(e, dict) or e.get("is_custom") is not True]
    else:
        return entries, 0
    return kept, len(entries) - len(kept)
