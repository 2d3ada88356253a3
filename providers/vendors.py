"""Vendors as data: how each provider is configured, reached and ranked. No classes per vendor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Wire = Literal["openai", "gemini"]
Tier = Literal["native", "custom", "catch_all"]


@dataclass(frozen=True)
class Vendor:
    """Registry data for one provider: its wire format, key, endpoint and place in resolution order."""

    name: str
    display: str
    wire: Wire
    key_env: str
    base_url: str
    base_url_env: str
    tier: Tier = "native"
    key_optional: bool = False  # local servers need no key
    enabled_by_env: str = ""  # when set, this variable (not the key) turns the vendor on
    headers: dict[str, str] = field(default_factory=dict)
    # Azure's dialect: /openai/deployments/<deployment>/... with ?api-version= and an api-key header (DIAL too).
    azure: bool = False
    api_version_env: str = ""
    api_version: str = ""
    docs_hint: str = ""
    # Takes a system message after the material (OpenAI's API does; local chat templates often refuse one), so
    # the tool's instructions can follow the files and history and those stay a prefix shared across tools.
    late_system: bool = True
    # Model-name prefixes whose prompt cache needs explicit `cache_control` breakpoints.
    cache_marker_prefixes: tuple[str, ...] = ()
    # Older names of the allow-list variable (PAL / Zen), read when Quorum's own is unset.
    legacy_allow_envs: tuple[str, ...] = ()
    # Header name -> the variable that replaces its default value (PAL's OPENROUTER_REFERER / _TITLE).
    header_envs: Mapping[str, str] = field(default_factory=dict)

    def header_overrides(self, get: Callable[[str], str]) -> dict[str, str]:
        return {header: get(env).strip() for header, env in self.header_envs.items() if get(env).strip()}

    @property
    def allow_env(self) -> str:
        return f"{self.name.upper()}_ALLOWED_MODELS"

    @property
    def catalogue_env(self) -> str:
        return f"{self.name.upper()}_MODELS_CONFIG_PATH"


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        name="gemini",
        display="Google Gemini",
        wire="gemini",
        key_env="GEMINI_API_KEY",
        base_url="",
        base_url_env="GEMINI_BASE_URL",
        docs_hint="get a key at Google AI Studio",
        legacy_allow_envs=("GOOGLE_ALLOWED_MODELS",),
    ),
    Vendor(
        name="openai",
        display="OpenAI",
        wire="openai",
        key_env="OPENAI_API_KEY",
        base_url="https://api.openai.com/v1",
        base_url_env="OPENAI_BASE_URL",
        docs_hint="get a key at platform.openai.com",
    ),
    Vendor(
        name="azure",
        display="Azure OpenAI",
        wire="openai",
        key_env="AZURE_OPENAI_API_KEY",
        base_url="",
        base_url_env="AZURE_OPENAI_ENDPOINT",
        azure=True,
        api_version_env="AZURE_OPENAI_API_VERSION",
        api_version="2025-04-01-preview",
        docs_hint="also set AZURE_OPENAI_ENDPOINT; deployments are declared in conf/azure_models.json",
        legacy_allow_envs=("AZURE_OPENAI_ALLOWED_MODELS",),
    ),
    Vendor(
        name="xai",
        display="xAI Grok",
        wire="openai",
        key_env="XAI_API_KEY",
        base_url="https://api.x.ai/v1",
        base_url_env="XAI_BASE_URL",
        docs_hint="get a key at console.x.ai",
    ),
    Vendor(
        name="dial",
        display="DIAL",
        wire="openai",
        key_env="DIAL_API_KEY",
        base_url="https://core.dialx.ai",
        base_url_env="DIAL_API_HOST",
        azure=True,
        api_version_env="DIAL_API_VERSION",
        api_version="2024-12-01-preview",
        docs_hint="DIAL_API_HOST overrides the host; models are DIAL deployments declared in conf/dial_models.json",
    ),
    Vendor(
        name="deepseek",
        display="DeepSeek",
        wire="openai",
        key_env="DEEPSEEK_API_KEY",
        base_url="https://api.deepseek.com/v1",
        base_url_env="DEEPSEEK_BASE_URL",
        docs_hint="get a key at platform.deepseek.com",
    ),
    Vendor(
        name="custom",
        display="Custom / local (Ollama, vLLM, LM Studio, llama.cpp)",
        wire="openai",
        key_env="CUSTOM_API_KEY",
        base_url="",
        base_url_env="CUSTOM_API_URL",
        tier="custom",
        key_optional=True,
        enabled_by_env="CUSTOM_API_URL",
        late_system=False,
        docs_hint="set CUSTOM_API_URL (e.g. http://localhost:11434/v1) and CUSTOM_MODEL_NAME",
    ),
    Vendor(
        name="openrouter",
        display="OpenRouter",
        wire="openai",
        key_env="OPENROUTER_API_KEY",
        base_url="https://openrouter.ai/api/v1",
        base_url_env="OPENROUTER_BASE_URL",
        tier="catch_all",
        headers={"HTTP-Referer": "https://github.com/quorum-mcp/quorum", "X-Title": "Quorum MCP"},
        cache_marker_prefixes=("anthropic/",),
        header_envs={"HTTP-Referer": "OPENROUTER_REFERER", "X-Title": "OPENROUTER_TITLE"},
        docs_hint="any model id such as 'anthropic/claude-sonnet-4.5' is routed here",
    ),
)

TIER_ORDER: dict[Tier, int] = {"native": 0, "custom": 1, "catch_all": 2}


def vendor(name: str) -> Vendor:
    for v in VENDORS:
        if v.name == name:
            return v
    raise KeyError(name)
