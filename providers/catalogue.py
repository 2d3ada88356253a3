"""Model catalogues: JSON files in conf/, one per provider, validated with pydantic."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from providers.catalogue_format import split_custom, translate
from utils.config.problems import ConfigProblem
from utils.prompting.budget import Allocation, allocate

logger = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

# Reasoning effort levels from least to most thinking (OpenAI's reasoning_effort, Gemini's thinking_level).
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class TemperatureRule(BaseModel):
    """What temperatures a model accepts: any in a range, one fixed value, or none at all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["range", "fixed", "none"] = "range"
    min: float = 0.0
    max: float = 1.0
    value: float = 1.0

    def apply(self, requested: float | None) -> tuple[float | None, str | None]:
        """Return the temperature to send and a note when it differs from what was asked."""
        if requested is None:
            return (self.value if self.kind == "fixed" else None), None
        if self.kind == "none":
            return None, f"temperature {requested} dropped: the model does not accept one"
        if self.kind == "fixed":
            note = None if requested == self.value else f"temperature {requested} replaced by the model's fixed {self.value}"
            return self.value, note
        clamped = min(max(requested, self.min), self.max)
        note = None if clamped == requested else f"temperature {requested} clamped to {clamped}"
        return clamped, note


class ModelSpec(BaseModel):
    """One model's capability facts: the single source of truth about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str
    provider: str = ""
    friendly_name: str = ""
    aliases: tuple[str, ...] = ()
    description: str = ""
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    supports_images: bool = False
    max_image_size_mb: float = 0.0
    supports_thinking: bool = False
    thinking_style: Literal["none", "effort", "budget"] = "none"
    max_thinking_tokens: int = 0
    min_thinking_tokens: int = 0  # budget style: the smallest budget the model accepts once thinking is on
    reasoning_efforts: tuple[Effort, ...] = ()  # effort style: the levels the model accepts (empty: minimal-high)
    default_effort: Effort | None = None  # effort style: sent when a call names no thinking mode
    supports_system_prompt: bool = True
    supports_json_mode: bool = False
    use_responses_api: bool = False
    deployment: str = ""  # Azure: the deployment that serves this model
    temperature: TemperatureRule = TemperatureRule()
    intelligence_score: int = Field(default=10, ge=1, le=20)
    fast: bool = False
    input_price_per_mtok: float = 0.0
    output_price_per_mtok: float = 0.0
    cached_input_price_per_mtok: float | None = None  # input read from the provider's prompt cache
    tokenizer: Literal["o200k_base", "cl100k_base", "estimate"] = "estimate"

    def names(self) -> tuple[str, ...]:
        return (self.model_name, *self.aliases)

    def allocation(self) -> Allocation:
        """This model's token plan: the one split of its window every caller uses (prompt, files, diff)."""
        return allocate(self.context_window, self.max_output_tokens)

    def cost_usd(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """USD for one call; cached tokens are part of the input, billed at the cached price when there is one."""
        cached = min(max(cached_tokens, 0), input_tokens)
        cached_price = self.input_price_per_mtok if self.cached_input_price_per_mtok is None \
            else self.cached_input_price_per_mtok
        fresh = (input_tokens - cached) * self.input_price_per_mtok
        return (fresh + cached * cached_price + output_tokens * self.output_price_per_mtok) / 1_000_000


@dataclass(frozen=True)
class CatalogueLoad:
    """What one catalogue file gave: its usable models, and what was wrong with the rest."""

    models: list[ModelSpec] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    ignored_fields: tuple[str, ...] = ()


_SPEC_FIELDS = frozenset(ModelSpec.model_fields)
_FIX_FORMAT = ('make it a JSON object {"models": [{"model_name": ..., "context_window": ..., ...}]} '
               "(see conf/custom_models.json)")


def catalogue_path(provider: str, override: str = "") -> Path:
    """The file a provider's catalogue is read from: `override` (<PROVIDER>_MODELS_CONFIG_PATH) or conf/."""
    return Path(override).expanduser() if override.strip() else CONF_DIR / f"{provider}_models.json"


def load_catalogue(provider: str, path: Path | None = None) -> list[ModelSpec]:
    """The usable models of `conf/<provider>_models.json` (or `path`), tagged with their provider."""
    return read_catalogue(provider, path).models


def read_catalogue(provider: str, path: Path | None = None) -> CatalogueLoad:
    """Read a catalogue in Quorum's or PAL's format. Never raises: what cannot be used becomes a problem."""
    file = path or catalogue_path(provider)
    if not file.exists():
        if path is None:
            return CatalogueLoad()
        return CatalogueLoad(problems=[_problem(file, "", "the file does not exist",
                                                "point the variable at an existing file, or unset it")])
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return CatalogueLoad(problems=[_problem(file, "", f"it cannot be read ({exc})",
                                                "make it a readable UTF-8 file")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return CatalogueLoad(problems=[_problem(file, f"line {exc.lineno}, column {exc.colno}",
                                                f"it is not valid JSON ({exc.msg})", "correct the JSON at that place")])
    entries = data if isinstance(data, list) else data.get("models", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return CatalogueLoad(problems=[_problem(file, '"models"', "it has no list of models", _FIX_FORMAT)])
    entries, left_out = split_custom(provider, entries)
    models, problems, ignored = _entries(provider, file, text, entries)
    if ignored or left_out:
        others = f"; {left_out} entries left to the other provider (is_custom)" if left_out else ""
        fields = f"ignored fields with no meaning in Quorum: {', '.join(sorted(ignored))}" if ignored else ""
        logger.info("%s: %d models loaded; %s%s", file, len(models), fields or "no field ignored", others)
    return CatalogueLoad(models=models, problems=problems, ignored_fields=tuple(sorted(ignored)))


def _entries(
    provider: str, file: Path, text: str, entries: list[Any],
) -> tuple[list[ModelSpec], list[ConfigProblem], set[str]]:
    models: list[ModelSpec] = []
    problems: list[ConfigProblem] = []
    ignored: set[str] = set()
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            problems.append(_problem(file, f"models[{index}]", f"the entry is a {type(raw).__name__}, not an object",
                                     "make each model an object with model_name and context_window"))
            continue
        translated = translate(raw, provider, _SPEC_FIELDS)
        ignored.update(translated.ignored)
        name = raw.get("model_name")
        try:
            spec = ModelSpec.model_validate({**translated.entry, "provider": provider})
        except ValidationError as exc:
            problems.append(_entry_problem(file, text, index, name, exc))
            continue
        models.append(spec)
    return models, problems, ignored


def _entry_problem(file: Path, text: str, index: int, name: Any, exc: ValidationError) -> ConfigProblem:
    """Name the entry (by line when its model_name can be found), each bad field, and what it should hold."""
    fields = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(entry)"
        got = "" if item["type"] == "missing" else f" (got {str(item.get('input'))[:40]!r})"
        fields.append(f"{where}: {item['msg']}{got}")
    line = _line_of(text, name) if isinstance(name, str) else None
    label = f"model '{name}'" if isinstance(name, str) else "an entry without model_name"
    at = f"line {line}, models[{index}]" if line else f"models[{index}]"
    return _problem(file, at, f"{label} is invalid: {'; '.join(fields)}",
                    "correct those fields (numbers without quotes, true/false, lists in [...])",
                    models=(name,) if isinstance(name, str) else ())


def _line_of(text: str, name: str) -> int | None:
    match = re.search(r'"model_name"\s*:\s*' + re.escape(json.dumps(name)), text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _problem(file: Path, where: str, message: str, fix: str, models: tuple[str, ...] = ()) -> ConfigProblem:
    consequence = (f"Quorum started without model{'s' if len(models) != 1 else ''} {', '.join(models)}"
                   if models else "Quorum started without this catalogue")
    return ConfigProblem(source=str(file), where=where, message=message, fix=fix, consequence=consequence,
                         models=models, catalogue=True)
