"""Model catalogues: JSON files in conf/, one per provider, validated with pydantic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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

    def cost_usd(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """USD for one call; cached tokens are part of the input, billed at the cached price when there is one."""
        cached = min(max(cached_tokens, 0), input_tokens)
        cached_price = self.input_price_per_mtok if self.cached_input_price_per_mtok is None \
            else self.cached_input_price_per_mtok
        fresh = (input_tokens - cached) * self.input_price_per_mtok
        return (fresh + cached * cached_price + output_tokens * self.output_price_per_mtok) / 1_000_000


class Catalogue(BaseModel):
    """The content of one catalogue file."""

    model_config = ConfigDict(extra="ignore")

    models: list[ModelSpec]


def load_catalogue(provider: str, path: Path | None = None) -> list[ModelSpec]:
    """Load `conf/<provider>_models.json` (or `path`), tagging each entry with its provider."""
    file = path or CONF_DIR / f"{provider}_models.json"
    if not file.exists():
        return []
    data = json.loads(file.read_text(encoding="utf-8"))
    catalogue = Catalogue.model_validate(data)
    return [m.model_copy(update={"provider": provider}) for m in catalogue.models]
