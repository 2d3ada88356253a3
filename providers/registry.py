"""Which providers are configured, which models they offer, and how a model name is resolved."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from providers.base import Provider
from providers.catalogue import ModelSpec, load_catalogue
from providers.failover import FailoverPlan, FailoverSyntaxError, parse_failover
from providers.vendors import TIER_ORDER, VENDORS, Vendor
from utils.settings import Settings

logger = logging.getLogger(__name__)

Category = Literal["fast", "balanced", "reasoning"]


class ModelResolutionError(ValueError):
    """A model name could not be served; the message lists what can."""


@dataclass(frozen=True)
class Route:
    """A resolved model: its capability facts and the provider that serves it."""

    spec: ModelSpec
    provider: Provider
    vendor: Vendor


@dataclass(frozen=True)
class Unconfigured:
    vendor: Vendor
    reason: str


def _allow_list(settings: Settings, v: Vendor) -> set[str] | None:
    raw = settings.get(v.allow_env)
    items = {item.strip().lower() for item in raw.split(",") if item.strip()}
    return items or None


def _custom_models(settings: Settings, models: list[ModelSpec], explicit_catalogue: bool) -> list[ModelSpec]:
    """CUSTOM_MODEL_NAME declares the local model in use; without an explicit catalogue it is the only one."""
    name = settings.get("CUSTOM_MODEL_NAME").strip()
    if not name:
        return models
    known = [m for m in models if name.lower() in (n.lower() for n in m.names())]
    others = [m for m in models if m not in known] if explicit_catalogue else []
    if known:
        return [*known, *others]
    window = int(settings.get("CUSTOM_CONTEXT_WINDOW") or 32_768)
    declared = ModelSpec(
        model_name=name,
        provider="custom",
        friendly_name=f"Custom ({name})",
        description="Local model declared by CUSTOM_MODEL_NAME",
        context_window=window,
        max_output_tokens=min(8_192, window // 2),
        intelligence_score=8,
        fast=True,
    )
    return [declared, *others]


def vendor_state(settings: Settings, v: Vendor) -> str | None:
    """None when the vendor is usable; otherwise why not (naming the variable to set)."""
    if v.enabled_by_env:
        return None if settings.get(v.enabled_by_env).strip() else f"set {v.enabled_by_env}"
    if not settings.secret(v.key_env):
        return f"set {v.key_env}"
    if v.azure and not (settings.get(v.base_url_env).strip() or v.base_url):
        return f"set {v.base_url_env}"
    return None


def build_provider(v: Vendor, settings: Settings, models: list[ModelSpec]) -> Provider:
    """Instantiate the wire adapter for a vendor; adapters import their SDK on first use."""
    base_url = settings.get(v.base_url_env).strip() or v.base_url
    key = settings.secret(v.key_env)
    if v.wire == "gemini":
        from providers.gemini import GeminiProvider

        return GeminiProvider(
            v.name,
            api_key=key,
            base_url=base_url or None,
            models=models,
            connect_timeout=settings.connect_timeout_s,
            timeout=settings.provider_timeout_s,
        )
    from providers.openai_compat import AzureSettings, OpenAICompatibleProvider

    azure = None
    if v.azure:
        azure = AzureSettings(
            api_version=settings.get(v.api_version_env).strip() or v.api_version,
            deployments={m.model_name: m.deployment for m in models if m.deployment},
        )
    return OpenAICompatibleProvider(
        v.name,
        base_url=base_url,
        api_key=key,
        models=models,
        default_headers=dict(v.headers),
        azure=azure,
        connect_timeout=settings.connect_timeout_s,
        timeout=settings.provider_timeout_s,
    )


class ProviderRegistry:
    """The configured providers in resolution order: native, then custom, then catch-all."""

    def __init__(self, settings: Settings, providers: dict[str, Provider] | None = None) -> None:
        self.settings = settings
        self._providers: dict[str, Provider] = {}
        self._models: dict[str, list[ModelSpec]] = {}
        self._restricted: dict[str, list[ModelSpec]] = {}
        self.unconfigured: list[Unconfigured] = []
        self.failover = _failover_plan(settings)
        for v in sorted(VENDORS, key=lambda x: TIER_ORDER[x.tier]):
            reason = vendor_state(settings, v)
            if reason is not None and not (providers and v.name in providers):
                self.unconfigured.append(Unconfigured(v, reason))
                continue
            path = settings.get(v.catalogue_env).strip()
            models = load_catalogue(v.name, Path(path).expanduser() if path else None)
            if v.name == "custom":
                models = _custom_models(settings, models, explicit_catalogue=bool(path))
            allowed = _allow_list(settings, v)
            keep = [m for m in models if allowed is None or allowed & {n.lower() for n in m.names()}]
            self._restricted[v.name] = [m for m in models if m not in keep]
            self._models[v.name] = keep
            self._providers[v.name] = (providers or {}).get(v.name) or build_provider(v, settings, keep)

    @property
    def vendors(self) -> list[Vendor]:
        return [v for v in sorted(VENDORS, key=lambda x: TIER_ORDER[x.tier]) if v.name in self._providers]

    def provider(self, name: str) -> Provider:
        return self._providers[name]

    def models(self, vendor_name: str | None = None) -> list[ModelSpec]:
        if vendor_name is not None:
            return list(self._models.get(vendor_name, []))
        return [m for v in self.vendors for m in self._models[v.name]]

    def restricted(self, vendor_name: str) -> list[ModelSpec]:
        return list(self._restricted.get(vendor_name, []))

    def has_models(self) -> bool:
        return bool(self.models()) or "openrouter" in self._providers

    def _route(self, v: Vendor, spec: ModelSpec) -> Route:
        return Route(spec=spec, provider=self._providers[v.name], vendor=v)

    def resolve(self, name: str) -> Route:
        """Find the provider for a model name or alias (case-insensitive)."""
        wanted = name.strip().lower()
        for v in self.vendors:
            for spec in self._models[v.name]:
                if wanted in (n.lower() for n in spec.names()):
                    return self._route(v, spec)
        for v in self.vendors:
            for spec in self._restricted.get(v.name, []):
                if wanted in (n.lower() for n in spec.names()):
                    raise ModelResolutionError(
                        f"Model '{name}' is disabled by {v.allow_env}. {self.available_hint()}"
                    )
        if "/" in wanted and "openrouter" in self._providers:
            openrouter = next(v for v in self.vendors if v.name == "openrouter")
            allowed = _allow_list(self.settings, openrouter)
            if allowed is None or wanted in allowed:
                spec = ModelSpec(
                    model_name=name.strip(),
                    provider="openrouter",
                    friendly_name=f"OpenRouter ({name.strip()})",
                    context_window=128_000,
                    max_output_tokens=16_384,
                    intelligence_score=10,
                )
                return self._route(openrouter, spec)
        raise ModelResolutionError(f"Model '{name}' is not available. {self.available_hint()}")

    def find(self, name: str) -> Route | None:
        """Like resolve, but None when the name cannot be served."""
        try:
            return self.resolve(name)
        except ModelResolutionError:
            return None

    def available_hint(self) -> str:
        if not self._providers:
            return no_provider_message(self)
        names = [m.model_name + (f" ({', '.join(m.aliases)})" if m.aliases else "") for m in self.models()]
        listed = "; ".join(names[:40]) + ("; …" if len(names) > 40 else "")
        return f"Available models: {listed}. Use 'auto' to let Quorum choose, or call listmodels for details."

    def ranked(self, category: Category) -> list[Route]:
        """Every available model, best first for a tool category; native providers first on ties."""

        def score(route: Route) -> tuple[float, ...]:
            m, tier = route.spec, -TIER_ORDER[route.vendor.tier]
            if category == "reasoning":
                return (float(m.supports_thinking), m.intelligence_score, m.context_window, tier)
            if category == "fast":
                return (float(m.fast), m.intelligence_score, tier, -m.output_price_per_mtok)
            return (m.intelligence_score, tier, m.context_window)

        routes = [self._route(v, m) for v in self.vendors for m in self._models[v.name]]
        return sorted(routes, key=score, reverse=True)

    def auto_select(self, category: Category) -> Route:
        """The best available model for a tool category."""
        ranked = self.ranked(category)
        if not ranked:
            raise ModelResolutionError(no_provider_message(self))
        return ranked[0]

    def choose(self, asked: str | None, category: Category) -> Route:
        """The model a caller asked for, or with none (or 'auto') the best one for the tool's category."""
        if not asked or asked.strip().lower() == "auto":
            return self.auto_select(category)
        return self.resolve(asked)

    async def aclose(self) -> None:
        for p in self._providers.values():
            await p.aclose()


def _failover_plan(settings: Settings) -> FailoverPlan:
    """QUORUM_FAILOVER parsed once; a typo disables failover with a logged reason rather than the server."""
    try:
        return parse_failover(settings.failover)
    except FailoverSyntaxError as exc:
        logger.error("%s; failover is off until it is fixed", exc)
        return FailoverPlan()


def no_provider_message(registry: ProviderRegistry) -> str:
    options = ", ".join(
        f"{u.vendor.key_env if not u.vendor.enabled_by_env else u.vendor.enabled_by_env}" for u in registry.unconfigured
    )
    return (
        "No model provider is configured. Set at least one of: "
        f"{options} (in the environment or in the server's .env file), then restart the server. "
        "For a local Ollama/vLLM/LM Studio server set CUSTOM_API_URL and CUSTOM_MODEL_NAME."
    )
