"""Server settings: built once in main() from the environment and an optional .env file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from utils.config.problems import ConfigProblem
from utils.vocabulary import ThinkingMode

PLACEHOLDER_MARKERS = ("your_", "your-", "<", "changeme", "xxx", "placeholder", "replace_me", "sk-...")


def is_placeholder(value: str | None) -> bool:
    """True for empty values and the placeholders people leave in example files."""
    if not value or not value.strip():
        return True
    low = value.strip().lower()
    return any(marker in low for marker in PLACEHOLDER_MARKERS)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# PAL / Zen's switch that lets .env override the real environment.
FORCE_DOTENV_SWITCHES = ("PAL_MCP_FORCE_ENV_OVERRIDE", "ZEN_MCP_FORCE_ENV_OVERRIDE")
_SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD")


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _refused_values(
    exc: ValidationError, known: Mapping[str, str], from_file: Mapping[str, str], real: Mapping[str, str],
) -> dict[str, ConfigProblem]:
    """One problem per environment value pydantic refused, naming the variable, where it came from and the fix."""
    bad: dict[str, ConfigProblem] = {}
    for item in exc.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        if name not in known or name in bad:
            continue
        field = next(f for f in Settings.model_fields.values() if f.alias == name)
        value = known[name]
        shown = "(hidden)" if name.endswith(_SECRET_SUFFIXES) else repr(str(value)[:60])
        origin = ".env" if name in from_file and name not in real else "the environment"
        default = field.default if field.default not in (None, "", ()) else "unset"
        bad[name] = ConfigProblem(
            source=name,
            where=f"from {origin}",
            message=f"value {shown} is not valid: {item['msg']}",
            fix=f"set {name} to a valid value (see the configuration table in README.md) or remove it, then restart",
            consequence=f"Quorum uses the default ({default})",
        )
    return bad


class Settings(BaseModel):
    """Every knob of the server; field aliases are the environment variable names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    default_model: str = Field("auto", alias="DEFAULT_MODEL")
    disabled_tools: tuple[str, ...] = Field((), alias="DISABLED_TOOLS")
    conversation_timeout_hours: float = Field(24.0, alias="CONVERSATION_TIMEOUT_HOURS", gt=0)
    max_conversation_turns: int = Field(50, alias="MAX_CONVERSATION_TURNS", ge=2)
    max_mcp_output_tokens: int = Field(25_000, alias="MAX_MCP_OUTPUT_TOKENS", ge=1_000)
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    locale: str = Field("", alias="LOCALE")
    # Unset: thinkdeep leaves the thinking mode to the model, like every other tool.
    default_thinking_mode_thinkdeep: ThinkingMode | None = Field(
        None, alias="DEFAULT_THINKING_MODE_THINKDEEP")
    # The window of a local model whose server does not say it (see providers/discovery.py).
    custom_context_window: int | None = Field(None, alias="CUSTOM_CONTEXT_WINDOW", ge=512)

    home: Path = Field(Path("~/.quorum"), alias="QUORUM_HOME")
    storage: Literal["sqlite", "memory", "redis"] = Field("sqlite", alias="QUORUM_STORAGE")
    sqlite_path: Path | None = Field(None, alias="QUORUM_SQLITE_PATH")
    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="QUORUM_REDIS_URL")
    allowed_roots: tuple[Path, ...] = Field((), alias="QUORUM_ALLOWED_ROOTS")
    allow_secret_files: bool = Field(False, alias="QUORUM_ALLOW_SECRET_FILES")
    max_prompt_chars: int = Field(60_000, alias="QUORUM_MAX_PROMPT_CHARS", ge=1_000)
    max_file_bytes: int = Field(1_000_000, alias="QUORUM_MAX_FILE_BYTES", ge=1_000)
    provider_timeout_s: float = Field(600.0, alias="QUORUM_PROVIDER_TIMEOUT_S", gt=0)
    connect_timeout_s: float = Field(15.0, alias="QUORUM_CONNECT_TIMEOUT_S", gt=0)
    max_retries: int = Field(3, alias="QUORUM_MAX_RETRIES", ge=0)
    retry_base_delay_s: float = Field(1.0, alias="QUORUM_RETRY_BASE_DELAY_S", ge=0)
    failover: str = Field("", alias="QUORUM_FAILOVER")
    max_cost_per_thread_usd: float | None = Field(None, alias="QUORUM_MAX_COST_PER_THREAD_USD")
    heartbeat_s: float = Field(10.0, alias="QUORUM_HEARTBEAT_S", gt=0)
    log_file: Path | None = Field(None, alias="QUORUM_LOG_FILE")
    transport: Literal["stdio", "http"] = Field("stdio", alias="QUORUM_TRANSPORT")
    http_host: str = Field("127.0.0.1", alias="QUORUM_HTTP_HOST")
    http_port: int = Field(8765, alias="QUORUM_HTTP_PORT")
    http_token: str = Field("", alias="QUORUM_HTTP_TOKEN")
    http_tokens_file: Path | None = Field(None, alias="QUORUM_HTTP_TOKENS_FILE")
    http_share_local_threads: bool = Field(False, alias="QUORUM_HTTP_SHARE_LOCAL_THREADS")
    discovery_timeout_s: float = Field(5.0, alias="QUORUM_DISCOVERY_TIMEOUT_S", gt=0)
    # PAL's timeouts for the custom (local) provider; unset: QUORUM_CONNECT_TIMEOUT_S / QUORUM_PROVIDER_TIMEOUT_S.
    custom_connect_timeout_s: float | None = Field(None, alias="CUSTOM_CONNECT_TIMEOUT", gt=0)
    custom_read_timeout_s: float | None = Field(None, alias="CUSTOM_READ_TIMEOUT", gt=0)

    # Values that could not be used, each replaced by its default (see from_env).
    problems: tuple[ConfigProblem, ...] = ()

    # Provider keys, base URLs and allow-lists are read by the provider registry from this snapshot,
    # so adding a vendor never means adding a field here.
    env: Mapping[str, str] = Field(default_factory=dict)

    @field_validator("disabled_tools", "allowed_roots", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("max_cost_per_thread_usd", "sqlite_path", "log_file", "http_tokens_file", "custom_context_window",
                     "custom_connect_timeout_s", "custom_read_timeout_s",
                     "default_thinking_mode_thinkdeep", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        """Real environment wins over the .env file (unless PAL's force-override switch says otherwise); unknown
        variables are kept for the registry; a value that does not validate falls back to its default."""
        real = dict(os.environ if environ is None else environ)
        from_file: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            from dotenv import dotenv_values

            from_file = {k: v for k, v in dotenv_values(dotenv).items() if v is not None}
        merged = {**from_file, **real}
        if any(_truthy(merged.get(name, "")) for name in FORCE_DOTENV_SWITCHES):
            merged.update(from_file)
        fields = {f.alias for f in cls.model_fields.values() if f.alias}
        known = {k: v for k, v in merged.items() if k in fields}
        problems: list[ConfigProblem] = []
        # Each pass drops the values pydantic refused; a refused value can hide no other error, so this ends.
        for _ in range(len(known) + 1):
            try:
                return cls.model_validate({**known, "env": dict(merged), "problems": tuple(problems)})
            except ValidationError as exc:
                bad = _refused_values(exc, known, from_file, real)
                if not bad:
                    raise
                for name, problem in bad.items():
                    known.pop(name, None)
                    problems.append(problem)
        raise AssertionError("unreachable: every pass removes at least one value")

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def database_path(self) -> Path:
        return (self.sqlite_path or self.home_dir / "threads.sqlite3").expanduser()

    @property
    def output_dir(self) -> Path:
        return self.home_dir / "outputs"

    def default_thinking_mode(self, tool: str) -> ThinkingMode | None:
        """The thinking mode a tool uses when the call names none (PAL's DEFAULT_THINKING_MODE_THINKDEEP)."""
        return self.default_thinking_mode_thinkdeep if tool == "thinkdeep" else None

    def attempt_timeout(self, vendor: str) -> tuple[float, str]:
        """One provider attempt's time bound for a vendor, and the variable that sets it (PAL's CUSTOM_READ_TIMEOUT
        for the local server)."""
        if vendor == "custom" and self.custom_read_timeout_s:
            return self.custom_read_timeout_s, "CUSTOM_READ_TIMEOUT"
        return self.provider_timeout_s, "QUORUM_PROVIDER_TIMEOUT_S"

    def connect_timeout(self, vendor: str) -> float:
        """The connection timeout for a vendor (PAL's CUSTOM_CONNECT_TIMEOUT for the local server)."""
        return (self.custom_connect_timeout_s if vendor == "custom" else None) or self.connect_timeout_s

    def get(self, name: str, default: str = "") -> str:
        """A raw environment value (provider keys and URLs)."""
        return self.env.get(name, default)

    def secret(self, name: str) -> str:
        """An API key, or '' when unset or a placeholder."""
        value = self.env.get(name, "")
        return "" if is_placeholder(value) else value.strip()
