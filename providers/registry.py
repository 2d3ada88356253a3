"""Which providers are configured, which models they offer, and how a model name is resolved."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from providers.base import Provider
from providers.catalogue import ModelSpec, catalogue_path, read_catalogue
from providers.errors import ContextTooLongError, ProviderError
from providers.failover import FailoverPlan, FailoverSyntaxError, parse_failover
from providers.local_models import LocalConfig, LocalModels, window_in_error
from providers.vendors import TIER_ORDER, VENDORS, Vendor
from utils.config.problems import ConfigProblem
from utils.config.settings import Settings

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
    """The vendor's allow-list; PAL's older names (GOOGLE_ALLOWED_MODELS, ...) count when Quorum's is unset."""
    raw = next((value for name in (v.allow_env, *v.legacy_allow_envs) if (value := settings.get(name).strip())), "")
    items = {item.strip().lower() for item in raw.split(",") if item.strip()}
    return items or None


def vendor_state(settings: Settings, v: Vendor) -> str | None:
    """None when the vendor is usable; otherwise why not (naming the variable to set)."""
    if v.enabled_by_env:
        return None if settings.get(v.enabled_by_env).strip() else f"set {v.enabled_by_env}"
    if not settings.secret(v.key_env):
        return f"set {v.key_env}"
    if v.azure and not (settings.get(v.base_url_env).strip() or v.base_url):
        return f"set {v.base_url_env}"
    return None


def build_provider(
    v: Vendor, settings: Settings, models: list[ModelSpec],
    on_context_error: Callable[[str, ContextTooLongError], ProviderError] | None = None,
) -> Provider:
    """Instantiate the wire adapter for a vendor; adapters import their SDK on first use."""
    base_url = settings.get(v.base_url_env).strip() or v.base_url
    key = settings.secret(v.key_env)
    connect_timeout, timeout = settings.connect_timeout(v.name), settings.attempt_timeout(v.name)[0]
    if v.wire == "gemini":
        from providers.gemini import GeminiProvider

        return GeminiProvider(
            v.name,
            api_key=key,
            base_url=base_url or None,
            models=models,
            connect_timeout=connect_timeout,
            timeout=timeout,
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
        default_headers={**v.headers, **v.header_overrides(settings.get)},
        azure=azure,
        connect_timeout=connect_timeout,
        timeout=timeout,
        on_context_error=on_context_error,
        late_system=v.late_system,
        cache_marker_prefixes=v.cache_marker_prefixes,
    )


class ProviderRegistry:
    """The configured providers in resolution order: native, then custom, then catch-all."""

    def __init__(self, settings: Settings, providers: dict[str, Provider] | None = None) -> None:
        self.settings = settings
        self._providers: dict[str, Provider] = {}
        self._models: dict[str, list[ModelSpec]] = {}
        self._restricted: dict[str, list[ModelSpec]] = {}
        self.unconfigured: list[Unconfigured] = []
        self.problems: list[ConfigProblem] = list(settings.problems)
        self.failover = _failover_plan(settings, self.problems)
        self._local: LocalModels | None = None
        for v in sorted(VENDORS, key=lambda x: TIER_ORDER[x.tier]):
            reason = vendor_state(settings, v)
            if reason is not None and not (providers and v.name in providers):
                self.unconfigured.append(Unconfigured(v, reason))
                continue
            override = settings.get(v.catalogue_env).strip()
            loaded = read_catalogue(v.name, catalogue_path(v.name, override) if override else None)
            self.problems.extend(loaded.problems)
            models = loaded.models
            if v.name == "custom":
                local = LocalModels(self._local_config(settings, v, bool(override)), models)
                models = local.models
                if not (providers and v.name in providers):  # an injected provider is no server to ask
                    self._local = local
            self._set_models(v, models)
            learn = self._learn_window if v.name == "custom" else None
            self._providers[v.name] = (providers or {}).get(v.name) or build_provider(
                v, settings, self._models[v.name], learn)
        for problem in self.problems:
            logger.error("configuration problem: %s", problem.describe())

    @staticmethod
    def _local_config(settings: Settings, v: Vendor, explicit_catalogue: bool) -> LocalConfig:
        return LocalConfig(
            base_url=settings.get(v.base_url_env).strip(),
            api_key=settings.secret(v.key_env),
            declared_name=settings.get("CUSTOM_MODEL_NAME").strip(),
            explicit_catalogue=explicit_catalogue,
            context_window=settings.custom_context_window,
            timeout=settings.discovery_timeout_s,
        )

    def _set_models(self, v: Vendor, models: list[ModelSpec]) -> None:
        allowed = _allow_list(self.settings, v)
        keep = [m for m in models if allowed is None or allowed & {n.lower() for n in m.names()}]
        self._restricted[v.name] = [m for m in models if m not in keep]
        self._models[v.name] = keep

    def _learn_window(self, model: str, error: ContextTooLongError) -> ProviderError:
        """A local server that refused a prompt as too long often states its window: use it from now on."""
        window = window_in_error(error.message)
        if self._local is None or window is None or not self._local.learn_window(model, window):
            return error
        self._set_models(next(v for v in VENDORS if v.name == "custom"), self._local.models)
        return ContextTooLongError(
            f"{error.message} Quorum learnt from this answer that the server's window for '{model}' is "
            f"{window:,} tokens and now fits prompts to it: call again (or set CUSTOM_CONTEXT_WINDOW to start "
            "with it).", provider=error.provider, model=error.model, status=error.status)

    @property
    def local(self) -> LocalModels | None:
        """The local server's models and what discovery learnt (None when no local server is configured)."""
        return self._local

    async def list_local(self) -> None:
        """Ask the local server what it serves (listmodels shows it all), unless already known."""
        if self._local is not None and self._local.wants_listing():
            await self._local.refresh()
            self._set_models(next(v for v in VENDORS if v.name == "custom"), self._local.models)

    async def prepare(self, asked: str | None) -> None:
        """Ask the local server what it serves when resolving `asked` depends on it (once per process)."""
        local = self._local
        if local is None or not local.wants_listing():
            return
        wanted = (asked or "").strip()
        if wanted.lower() in ("", "auto"):
            if not local.needs_server_for_auto():
                return
        elif self.find(wanted) is not None and not local.is_provisional(wanted):
            return
        await local.refresh()
        custom = next(v for v in VENDORS if v.name == "custom")
        self._set_models(custom, local.models)

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
        if self._local is not None and "custom" in self._providers:
            custom = next(v for v in self.vendors if v.name == "custom")
            allowed = _allow_list(self.settings, custom)
            for spec in self._local.extras:
                names = {n.lower() for n in spec.names()}
                if wanted in names and (allowed is None or allowed & names):
                    return self._route(custom, spec)
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
        raise ModelResolutionError(f"Model '{name}' is not available. {self.problem_hint(name)}{self.available_hint()}")

    def problem_hint(self, name: str | None = None) -> str:
        """The configuration problems that may explain a missing model: the one hiding `name` if known, else all."""
        wanted = (name or "").strip().lower()
        named = [p for p in self.problems if wanted and wanted in (m.lower() for m in p.models)]
        relevant = named or [p for p in self.problems if p.catalogue and not p.models]
        if not relevant:
            return ""
        return "Configuration problems: " + " ".join(p.describe() for p in relevant) + " "

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
            raise ModelResolutionError(self.problem_hint() + no_provider_message(self))
        return ranked[0]

    def choose(self, asked: str | None, category: Category) -> Route:
        """The model a caller asked for, or with none (or 'auto') the best one for the tool's category."""
        if not asked or asked.strip().lower() == "auto":
            return self.auto_select(category)
        return self.resolve(asked)

    async def aclose(self) -> None:
        for p in self._providers.values():
            await p.aclose()


def _failover_plan(settings: Settings, problems: list[ConfigProblem]) -> FailoverPlan:
    """QUORUM_FAILOVER parsed once; a typo disables failover with a reported reason rather than the server."""
    try:
        return parse_failover(settings.failover)
    except FailoverSyntaxError as exc:
        problems.append(ConfigProblem(
            source="QUORUM_FAILOVER", where="", message=str(exc), consequence="Until it is fixed, failover is off",
            fix="correct the chain (see the configuration table in README.md) and restart"))
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
