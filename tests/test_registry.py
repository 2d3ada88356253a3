"""Provider registry: configuration by environment, resolution order, allow-lists, auto selection."""

from __future__ import annotations

import subprocess
import sys

import pytest

from providers.registry import ModelResolutionError, ProviderRegistry
from utils.config.settings import Settings, is_placeholder


def registry(**env: str) -> ProviderRegistry:
    return ProviderRegistry(Settings.from_env({"QUORUM_STORAGE": "memory", **env}))


def test_with_no_keys_nothing_is_configured_and_every_vendor_says_what_to_set():
    reg = registry()
    assert reg.vendors == []
    reasons = {u.vendor.name: u.reason for u in reg.unconfigured}
    assert reasons["gemini"] == "set GEMINI_API_KEY"
    assert reasons["custom"] == "set CUSTOM_API_URL"
    with pytest.raises(ModelResolutionError, match="No model provider is configured"):
        reg.auto_select("balanced")


@pytest.mark.parametrize("value", ["", "  ", "your_gemini_api_key_here", "<your key>", "changeme", "sk-..."])
def test_placeholder_keys_are_ignored(value):
    assert is_placeholder(value)
    assert "gemini" not in {v.name for v in registry(GEMINI_API_KEY=value).vendors}


def test_a_real_looking_key_enables_its_vendor_and_its_catalogue():
    reg = registry(GEMINI_API_KEY="AIzaSyTestKey0123456789")
    assert [v.name for v in reg.vendors] == ["gemini"]
    assert reg.resolve("pro").spec.provider == "gemini"
    assert reg.resolve("FLASH").spec.model_name == "gemini-2.5-flash"


def test_native_providers_win_over_custom_and_openrouter_for_the_same_name(tmp_path):
    cat = tmp_path / "custom.json"
    cat.write_text('{"models": [{"model_name": "gpt-5", "context_window": 1000, "max_output_tokens": 100}]}')
    reg = registry(
        OPENAI_API_KEY="sk-test-abcdef123456",
        CUSTOM_API_URL="http://127.0.0.1:1/v1",
        CUSTOM_MODELS_CONFIG_PATH=str(cat),
        OPENROUTER_API_KEY="or-test-123456",
    )
    assert reg.resolve("gpt-5").vendor.name == "openai"
    assert [v.name for v in reg.vendors] == ["openai", "custom", "openrouter"]


def test_openrouter_is_the_catch_all_for_vendor_slash_model_ids():
    reg = registry(OPENROUTER_API_KEY="or-test-123456")
    route = reg.resolve("anthropic/claude-sonnet-4.5")
    assert route.vendor.name == "openrouter" and route.spec.model_name == "anthropic/claude-sonnet-4.5"


def test_allow_lists_hide_models_everywhere_and_explain_refusals():
    reg = registry(OPENAI_API_KEY="sk-test-abcdef123456", OPENAI_ALLOWED_MODELS="gpt-5-mini, o3")
    names = {m.model_name for m in reg.models()}
    assert names == {"gpt-5-mini", "o3"}
    with pytest.raises(ModelResolutionError, match="OPENAI_ALLOWED_MODELS"):
        reg.resolve("gpt-5")
    assert reg.resolve("mini").spec.model_name == "gpt-5-mini"
    assert reg.auto_select("balanced").spec.model_name in names


def test_unknown_model_error_lists_what_is_available():
    reg = registry(GEMINI_API_KEY="AIzaSyTestKey0123456789")
    with pytest.raises(ModelResolutionError) as err:
        reg.resolve("gpt-99")
    assert "gemini-2.5-flash" in str(err.value) and "listmodels" in str(err.value)


def test_auto_selection_follows_the_tool_category():
    reg = registry(GEMINI_API_KEY="AIzaSyTestKey0123456789", OPENAI_API_KEY="sk-test-abcdef123456")
    reasoning = reg.auto_select("reasoning").spec
    fast = reg.auto_select("fast").spec
    assert reasoning.supports_thinking and reasoning.intelligence_score >= 18
    assert fast.fast


def test_custom_model_name_declares_the_only_local_model_without_a_catalogue():
    reg = registry(CUSTOM_API_URL="http://127.0.0.1:11434/v1", CUSTOM_MODEL_NAME="my-local")
    assert [m.model_name for m in reg.models()] == ["my-local"]
    assert reg.auto_select("reasoning").spec.model_name == "my-local"


def test_a_catalogue_can_be_replaced_by_its_env_path(tmp_path):
    cat = tmp_path / "g.json"
    cat.write_text('{"models": [{"model_name": "g-test", "aliases": ["gt"], "context_window": 5000, "max_output_tokens": 500}]}')
    reg = registry(GEMINI_API_KEY="AIzaSyTestKey0123456789", GEMINI_MODELS_CONFIG_PATH=str(cat))
    assert [m.model_name for m in reg.models()] == ["g-test"]
    assert reg.resolve("GT").spec.context_window == 5000


def test_building_the_registry_does_not_import_the_provider_sdks():
    code = (
        "import sys; from utils.config.settings import Settings; from providers.registry import ProviderRegistry;"
        "ProviderRegistry(Settings.from_env({'GEMINI_API_KEY': 'AIzaSyTestKey0123456789', 'OPENAI_API_KEY': 'sk-test-abcdef1234'}));"
        "import server;"
        "print('openai' in sys.modules, 'google.genai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_settings_read_env_over_dotenv_and_keep_unknown_variables(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("DEFAULT_MODEL=flash\nMAX_CONVERSATION_TURNS=10\nGEMINI_API_KEY=from-dotenv-123456\n")
    s = Settings.from_env({"DEFAULT_MODEL": "pro"}, dotenv=dotenv)
    assert s.default_model == "pro"
    assert s.max_conversation_turns == 10
    assert s.secret("GEMINI_API_KEY") == "from-dotenv-123456"


def test_settings_parse_lists_and_paths():
    s = Settings.from_env({"DISABLED_TOOLS": "chat, codereview", "QUORUM_ALLOWED_ROOTS": "/a,/b"})
    assert s.disabled_tools == ("chat", "codereview")
    assert [str(p) for p in s.allowed_roots] == ["/a", "/b"]
