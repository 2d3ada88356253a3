"""The custom (local) provider's models: declared ones, and what the server turns out to serve.

A user may declare models (CUSTOM_MODEL_NAME, a CUSTOM_MODELS_CONFIG_PATH catalogue) or declare nothing and let
Quorum ask the server. Asking is lazy (first call that needs it, never at start-up), bounded, and its answer is
kept for the life of the process; a failed attempt is retried after a pause, not on every call.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

from providers.catalogue import ModelSpec
from providers.catalogue_format import output_for_window
from providers.discovery import Discovery, ServedModel, discover

logger = logging.getLogger(__name__)

# A window nobody stated (no server answer, no CUSTOM_CONTEXT_WINDOW): the size assumed, and a bounded answer,
# since a guess says nothing about how slowly a local model writes.
ASSUMED_WINDOW = 32_768
ASSUMED_OUTPUT = 2_048
RETRY_AFTER_FAILURE_S = 30.0
# How servers state their window when refusing a prompt: OpenAI's wording (llama-cpp-python, vLLM copy it)
# and llama.cpp's own.
_WINDOW_IN_ERROR = re.compile(r"maximum context length is (\d+) tokens|context window of (\d+)|n_ctx[=: ]+(\d+)")


def window_in_error(message: str) -> int | None:
    """The window a "prompt too long" answer states, if it states one."""
    match = _WINDOW_IN_ERROR.search(message)
    return int(next(g for g in match.groups() if g)) if match else None


@dataclass(frozen=True)
class LocalConfig:
    """What the user told Quorum about the local server."""

    base_url: str
    api_key: str = ""
    declared_name: str = ""  # CUSTOM_MODEL_NAME
    explicit_catalogue: bool = False  # CUSTOM_MODELS_CONFIG_PATH
    context_window: int | None = None  # CUSTOM_CONTEXT_WINDOW
    timeout: float = 5.0


def assumed_spec(name: str, window: int | None, description: str) -> ModelSpec:
    """A model nothing describes but its name: the stated window, or an assumed one with a bounded answer."""
    return ModelSpec(
        model_name=name,
        provider="custom",
        friendly_name=f"Custom ({name})",
        description=description,
        context_window=window or ASSUMED_WINDOW,
        max_output_tokens=output_for_window(window) if window else ASSUMED_OUTPUT,
        intelligence_score=8,
        fast=True,
        # Gemma has no system role: its own template folds the system text into the first user turn, and
        # llama-cpp-python's `gemma` chat format silently drops it. Folding it ourselves is right for both.
        supports_system_prompt="gemma" not in name.lower(),
    )


def declared_models(config: LocalConfig, catalogue: list[ModelSpec]) -> tuple[list[ModelSpec], bool]:
    """The models before asking the server, and whether the declared model's window is still a guess."""
    name = config.declared_name
    if not name:
        return catalogue, False
    known = [m for m in catalogue if name.lower() in (n.lower() for n in m.names())]
    others = [m for m in catalogue if m not in known] if config.explicit_catalogue else []
    if known:
        return [*known, *others], False
    declared = assumed_spec(name, config.context_window, "Local model declared by CUSTOM_MODEL_NAME")
    return [declared, *others], True


class LocalModels:
    """Declared models, refined once by what the server reports."""

    def __init__(self, config: LocalConfig, catalogue: list[ModelSpec]) -> None:
        self.config = config
        self._catalogue = catalogue
        self._models, self._provisional = declared_models(config, catalogue)
        self._declared = bool(config.declared_name) or config.explicit_catalogue
        self._extras: list[ModelSpec] = []
        self._sources: dict[str, str] = {}
        self._result: Discovery | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def models(self) -> list[ModelSpec]:
        return list(self._models)

    @property
    def extras(self) -> list[ModelSpec]:
        """Served models nobody declared: callable by name, not offered to auto mode."""
        return list(self._extras)

    @property
    def result(self) -> Discovery | None:
        return self._result

    def window_source(self, name: str) -> str:
        return self._sources.get(name, "")

    def wants_listing(self) -> bool:
        """True while the server has not been asked and a model list or window depends on its answer."""
        if self._result is not None and not self._result.error:
            return False
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE_S:
            return False
        return True

    def is_provisional(self, name: str) -> bool:
        return self._provisional and name.strip().lower() == self.config.declared_name.lower()

    def needs_server_for_auto(self) -> bool:
        return not self._declared or self._provisional

    async def refresh(self) -> Discovery:
        """Ask the server once (concurrent callers share the answer) and fold its answer into the models."""
        async with self._lock:
            if self._result is not None and not self.wants_listing():
                return self._result
            result = await discover(self.config.base_url, self.config.api_key, self.config.timeout)
            self._result = result
            if result.error:
                self._failed_at = time.monotonic()
                logger.warning("local model discovery: %s; using the declared models", result.error)
                return result
            self._failed_at = None
            self._merge(result)
            return result

    def learn_window(self, name: str, window: int) -> bool:
        """Adopt a window the server stated for one model (smaller than believed); False if nothing changed."""
        for group in (self._models, self._extras):
            for i, spec in enumerate(group):
                if spec.model_name == name and window < spec.context_window:
                    group[i] = spec.model_copy(update={
                        "context_window": window,
                        "max_output_tokens": min(spec.max_output_tokens, output_for_window(window))})
                    self._sources[name] = "the server's context-length error"
                    logger.warning("local model %s: the server's window is %d tokens; budgeting for it", name, window)
                    return True
        return False

    def _merge(self, result: Discovery) -> None:
        declared = {n.lower() for m in self._models for n in m.names()}
        served = [self._served_spec(m) for m in result.models]
        if self._provisional:
            name = self.config.declared_name
            match = result.find(name)
            if match is not None:
                self._models = [self._served_spec(match, name=name), *self._models[1:]]
        if not self._declared:
            self._models = served
            self._extras = []
        else:
            self._extras = [s for s in served if s.model_name.lower() not in declared]

    def _served_spec(self, served: ServedModel, name: str | None = None) -> ModelSpec:
        """A served model's facts: the catalogue's when it knows the name; the window from the server, else
        CUSTOM_CONTEXT_WINDOW, else the catalogue's, else assumed."""
        model_name = name or served.name
        base = next((m for m in self._catalogue if model_name.lower() in (n.lower() for n in m.names())
                     or served.name.lower() == f"{m.model_name.lower()}:latest"), None)
        window = served.context_window or self.config.context_window
        source = served.source or ("CUSTOM_CONTEXT_WINDOW" if self.config.context_window else "")
        if base is None:
            where = f"served by {self.config.base_url}"
            spec = assumed_spec(model_name, window, f"Local model {where}")
        else:
            window = window or base.context_window
            source = source or "the catalogue"
            output = min(base.max_output_tokens, output_for_window(window))
            aliases = tuple(dict.fromkeys([*base.aliases, *([base.model_name] if base.model_name != model_name else [])]))
            spec = base.model_copy(update={"model_name": model_name, "aliases": aliases,
                                           "context_window": window, "max_output_tokens": output})
        self._sources[spec.model_name] = source or f"not reported; assumed {ASSUMED_WINDOW:,} (set CUSTOM_CONTEXT_WINDOW)"
        return spec
