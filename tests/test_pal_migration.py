"""A PAL / Zen user's environment carries over: each PAL variable is honoured, renamed, or documented as
ignored in the README's migration table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer
from utils.config.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
KEY = "migration-test-key-0123456789"

# Every variable PAL reads or documents (its .env.example, docs/configuration.md, config.py, provider registries),
# plus the Zen-era names that were renamed since.
PAL_VARIABLES = (
    "GEMINI_API_KEY", "OPENAI_API_KEY", "XAI_API_KEY", "OPENROUTER_API_KEY", "DIAL_API_KEY",
    "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_VERSION", "AZURE_OPENAI_ALLOWED_MODELS",
    "CUSTOM_API_URL", "CUSTOM_API_KEY", "CUSTOM_MODEL_NAME", "CUSTOM_CONNECT_TIMEOUT", "CUSTOM_READ_TIMEOUT",
    "CUSTOM_WRITE_TIMEOUT", "CUSTOM_POOL_TIMEOUT", "GEMINI_BASE_URL", "DIAL_API_HOST", "DIAL_API_VERSION",
    "GOOGLE_ALLOWED_MODELS", "OPENAI_ALLOWED_MODELS", "XAI_ALLOWED_MODELS", "OPENROUTER_ALLOWED_MODELS",
    "DIAL_ALLOWED_MODELS", "GEMINI_MODELS_CONFIG_PATH", "OPENAI_MODELS_CONFIG_PATH", "XAI_MODELS_CONFIG_PATH",
    "OPENROUTER_MODELS_CONFIG_PATH", "CUSTOM_MODELS_CONFIG_PATH", "AZURE_MODELS_CONFIG_PATH", "DIAL_MODELS_CONFIG_PATH",
    "OPENROUTER_REFERER", "OPENROUTER_TITLE", "DEFAULT_MODEL", "DEFAULT_THINKING_MODE_THINKDEEP", "DISABLED_TOOLS",
    "CONVERSATION_TIMEOUT_HOURS", "MAX_CONVERSATION_TURNS", "MAX_MCP_OUTPUT_TOKENS", "LOG_LEVEL", "LOG_MAX_SIZE",
    "LOCALE", "PAL_MCP_FORCE_ENV_OVERRIDE", "ZEN_MCP_FORCE_ENV_OVERRIDE", "CLI_CLIENTS_CONFIG_PATH",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "TZ", "COMPOSE_PROJECT_NAME", "REDIS_URL", "WORKSPACE_ROOT",
    "MCP_PROJECT_ROOT",
)


def migration_rows() -> dict[str, str]:
    """The README's migration table: PAL variable -> what Quorum does with it."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Migrating from PAL / Zen", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and line.startswith("|"):
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def test_the_readme_says_what_quorum_does_with_every_pal_variable() -> None:
    rows = migration_rows()
    missing = [name for name in PAL_VARIABLES if name not in rows]
    assert not missing, f"README migration table lacks {missing}"
    assert all(rows[name] for name in PAL_VARIABLES)


@pytest.mark.parametrize(
    ("variable", "vendor", "env"),
    [
        ("GOOGLE_ALLOWED_MODELS", "gemini", {"GEMINI_API_KEY": KEY}),
        ("AZURE_OPENAI_ALLOWED_MODELS", "azure", {"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9"}),
    ],
)
def test_pals_allow_list_names_restrict_their_provider(
    make_settings, variable: str, vendor: str, env: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    from providers.registry import ProviderRegistry

    registry = ProviderRegistry(make_settings(**env, **{variable: "nothing-real"}))
    assert registry.models(vendor) == [] and registry.restricted(vendor)


async def test_default_thinking_mode_thinkdeep_sets_the_effort_of_thinkdeeps_expert_call(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake_server.openai_url,
                      DEFAULT_THINKING_MODE_THINKDEEP="low")
    async with quorum(env, tmp_path) as q:
        await q.ok("thinkdeep", step="Why is the cache cold?", step_number=1, total_steps=1, next_step_required=False,
                   findings="cache keys include a timestamp", model="gpt-5", confidence="high")
    assert fake_server.chat_requests()[-1].body["reasoning_effort"] == "low"


async def test_openrouter_referer_and_title_replace_the_default_headers(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", OPENROUTER_API_KEY=KEY, OPENROUTER_BASE_URL=fake_server.openai_url,
                      OPENROUTER_REFERER="https://example.test/app", OPENROUTER_TITLE="My Agent")
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hi", model="vendor/any-model")
    headers = fake_server.chat_requests()[-1].headers
    assert (headers["http-referer"], headers["x-title"]) == ("https://example.test/app", "My Agent")


async def test_custom_connect_and_read_timeouts_reach_the_local_providers_client(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", CUSTOM_API_URL=fake_server.openai_url, CUSTOM_MODEL_NAME="gpt-fake",
                      CUSTOM_CONNECT_TIMEOUT="4", CUSTOM_READ_TIMEOUT="900")
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hi")
        client = q.services.registry.provider("custom")._get_client()
        assert (client.timeout.connect, client.timeout.read) == (4.0, 900.0)


@pytest.mark.parametrize("switch", ["PAL_MCP_FORCE_ENV_OVERRIDE", "ZEN_MCP_FORCE_ENV_OVERRIDE"])
def test_the_force_override_switch_lets_the_env_file_win(tmp_path: Path, switch: str) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"DEFAULT_MODEL=from-file\n{switch}=true\n")
    assert Settings.from_env({"DEFAULT_MODEL": "from-env"}, dotenv=dotenv).default_model == "from-file"
    dotenv.write_text("DEFAULT_MODEL=from-file\n")
    assert Settings.from_env({"DEFAULT_MODEL": "from-env"}, dotenv=dotenv).default_model == "from-env"


async def test_custom_read_timeout_bounds_the_local_servers_calls_instead_of_the_provider_timeout(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    fake_server.configure(delay=1.5)  # slower than QUORUM_PROVIDER_TIMEOUT_S, within CUSTOM_READ_TIMEOUT
    base = dict(CUSTOM_API_URL=fake_server.openai_url, CUSTOM_MODEL_NAME="gpt-fake", QUORUM_PROVIDER_TIMEOUT_S="0.5",
                QUORUM_MAX_RETRIES="0")
    async with quorum(environment(tmp_path / "long", **base, CUSTOM_READ_TIMEOUT="10"), tmp_path) as q:
        await q.ok("chat", prompt="hi")
    async with quorum(environment(tmp_path / "short", **base), tmp_path) as q:
        refused = await q.fail("chat", "provider_error", prompt="hi")
    assert "QUORUM_PROVIDER_TIMEOUT_S" in refused.content, refused.content
