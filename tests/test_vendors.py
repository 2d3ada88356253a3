"""Every vendor, configured only by its environment variables and pointed at the fake provider, lists its
models and answers a chat through its real SDK path (Gemini through google-genai, the rest through openai)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from providers.catalogue import load_catalogue
from providers.vendors import VENDORS
from tests.env_quorum import environment, quorum
from tests.fakes import FakeProviderServer, RecordedRequest

KEY = "vendor-test-key-0123456789"


@dataclass(frozen=True)
class Case:
    """How one vendor is configured, what to ask for, and what its SDK must send."""

    vendor: str
    env: Callable[[str], dict[str, str]]  # fake URL -> the vendor's own variables
    ask: str  # a name or alias from the vendor's catalogue
    model: str  # the catalogue model it resolves to
    path: str  # where the request must land at the fake
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    wire_model: str = ""  # the model the fake sees, when not `model` (Azure: the deployment)


CASES = (
    Case("gemini", lambda url: {"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": url}, "flash", "gemini-2.5-flash",
         "/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": KEY}),
    Case("openai", lambda url: {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{url}/v1"}, "gpt5", "gpt-5",
         "/v1/chat/completions", {"authorization": f"Bearer {KEY}"}),
    Case("azure", lambda url: {"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": url,
                               "AZURE_OPENAI_API_VERSION": "2025-04-01-preview"},
         "azure-mini", "gpt-5-mini", "/openai/deployments/gpt-5-mini/chat/completions", {"api-key": KEY},
         {"api-version": "2025-04-01-preview"}),
    Case("xai", lambda url: {"XAI_API_KEY": KEY, "XAI_BASE_URL": f"{url}/xai/v1"}, "grok", "grok-4",
         "/xai/v1/chat/completions", {"authorization": f"Bearer {KEY}"}),
    Case("dial", lambda url: {"DIAL_API_KEY": KEY, "DIAL_API_HOST": f"{url}/dial"}, "dial-gpt5", "gpt-5-2025-08-07",
         "/dial/openai/deployments/gpt-5-2025-08-07/chat/completions", {"api-key": KEY},
         {"api-version": "2024-12-01-preview"}),
    Case("deepseek", lambda url: {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": f"{url}/deepseek/v1"}, "deepseek",
         "deepseek-chat", "/deepseek/v1/chat/completions", {"authorization": f"Bearer {KEY}"}),
    # A local server needs no key: an empty one is fine and no real key is ever sent.
    Case("custom", lambda url: {"CUSTOM_API_URL": f"{url}/v1", "CUSTOM_API_KEY": ""}, "llama", "llama3.2",
         "/v1/chat/completions", {"authorization": "Bearer not-needed"}),
    Case("openrouter", lambda url: {"OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": f"{url}/api/v1"}, "sonnet",
         "anthropic/claude-sonnet-4.5", "/api/v1/chat/completions",
         {"authorization": f"Bearer {KEY}", "http-referer": "https://github.com/quorum-mcp/quorum",
          "x-title": "Quorum MCP"}),
)


def test_every_vendor_has_a_case_and_a_catalogue() -> None:
    assert sorted(c.vendor for c in CASES) == sorted(v.name for v in VENDORS)
    for v in VENDORS:
        assert load_catalogue(v.name), f"conf/{v.name}_models.json is missing or empty"


def generation(fake: FakeProviderServer) -> RecordedRequest:
    requests = fake.generation_requests()
    assert len(requests) == 1, [r.path for r in requests]
    return requests[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.vendor)
async def test_a_vendor_configured_only_by_its_variables_lists_its_models_and_answers_a_chat(
    case: Case, fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", **case.env(fake_server.url))
    if case.vendor == "custom":  # listmodels asks a local server what it serves: here, the catalogue's models
        fake_server.configure(models=[m.model_name for m in load_catalogue("custom")])
    async with quorum(env, tmp_path) as q:
        listed = await q.ok("listmodels")
        answer = await q.ok("chat", prompt="which vendor are you?", model=case.ask)
        thread = await q.export(answer.thread_id)

    assert listed.metadata["configured_providers"] == [case.vendor]
    for spec in load_catalogue(case.vendor):
        assert f"`{spec.model_name}`" in listed.content
    rec = generation(fake_server)
    assert rec.path == case.path
    for name, value in {**case.headers}.items():
        assert rec.headers.get(name) == value, (name, rec.headers)
    for name, value in case.query.items():
        assert rec.query.get(name) == value
    assert KEY not in answer.content and KEY not in str(answer.metadata)
    assert answer.content.startswith(f"[fake:{case.wire_model or case.model}] reply #1")
    assert (answer.metadata["model_used"], answer.metadata["provider_used"]) == (case.model, case.vendor)
    assert [(t["role"], t["provider"], t["model"]) for t in thread["turns"]] == [
        ("user", "", ""), ("assistant", case.vendor, case.model)]


@pytest.mark.parametrize("case", [c for c in CASES if c.vendor != "custom"], ids=lambda c: c.vendor)
async def test_a_placeholder_key_leaves_the_vendor_unconfigured_and_names_the_variable_to_set(
    case: Case, fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    variables = case.env(fake_server.url)
    key_var = next(k for k in variables if k.endswith("_API_KEY"))
    env = environment(tmp_path / "home", **{**variables, key_var: f"your_{case.vendor}_api_key_here"})
    async with quorum(env, tmp_path) as q:
        listed = await q.ok("listmodels")
        refused = await q.fail("chat", prompt="hello", model=case.ask)

    assert listed.metadata["configured_providers"] == []
    assert f"set {key_var}" in listed.content
    assert refused.metadata["error_kind"] == "no_provider" and key_var in refused.content
    assert fake_server.requests == []


async def test_a_placeholder_custom_key_is_not_sent_to_the_local_server(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", CUSTOM_API_URL=f"{fake_server.url}/v1", CUSTOM_API_KEY="your_key_here")
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hello", model="llama")
    assert generation(fake_server).headers["authorization"] == "Bearer not-needed"


async def test_openrouter_serves_any_vendor_slash_model_id_beyond_its_catalogue(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", OPENROUTER_API_KEY=KEY, OPENROUTER_BASE_URL=f"{fake_server.url}/api/v1")
    async with quorum(env, tmp_path) as q:
        answer = await q.ok("chat", prompt="hello", model="mistralai/devstral-medium")
    rec = generation(fake_server)
    assert rec.body["model"] == "mistralai/devstral-medium" and rec.headers["x-title"] == "Quorum MCP"
    assert answer.metadata["provider_used"] == "openrouter"


async def test_an_openai_model_that_needs_the_responses_api_is_called_through_it(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=f"{fake_server.url}/v1")
    async with quorum(env, tmp_path) as q:
        answer = await q.ok("chat", prompt="think hard", model="gpt5pro")
    rec = generation(fake_server)
    assert rec.path == "/v1/responses" and rec.body["model"] == "gpt-5-pro"
    assert answer.metadata["model_used"] == "gpt-5-pro"


async def test_azure_needs_its_endpoint_as_well_as_its_key(fake_server: FakeProviderServer, tmp_path: Path) -> None:
    env = environment(tmp_path / "home", AZURE_OPENAI_API_KEY=KEY)
    async with quorum(env, tmp_path) as q:
        listed = await q.ok("listmodels")
    assert listed.metadata["configured_providers"] == [] and "set AZURE_OPENAI_ENDPOINT" in listed.content


async def test_with_every_vendor_configured_native_providers_win_and_each_alias_reaches_its_vendor(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    variables: dict[str, str] = {}
    for case in CASES:
        variables.update(case.env(fake_server.url))
    fake_server.configure(models=[m.model_name for m in load_catalogue("custom")])  # what the local server serves
    async with quorum(environment(tmp_path / "home", **variables), tmp_path) as q:
        listed = await q.ok("listmodels")
        for case in CASES:
            answer = await q.ok("chat", prompt="hi", model=case.ask)
            assert answer.metadata["provider_used"] == case.vendor, case.ask
        # gpt-5 is both an OpenAI model and an Azure deployment: the plain name goes to OpenAI.
        plain = await q.ok("chat", prompt="hi", model="gpt-5")
    assert sorted(listed.metadata["configured_providers"]) == sorted(v.name for v in VENDORS)
    assert plain.metadata["provider_used"] == "openai"
    assert [r.path for r in fake_server.generation_requests()][:len(CASES)] == [c.path for c in CASES]


async def test_the_connect_and_overall_timeouts_from_settings_reach_the_sdk_client(
    fake_server: FakeProviderServer, tmp_path: Path,
) -> None:
    env = environment(tmp_path / "home", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=f"{fake_server.url}/v1",
                      QUORUM_CONNECT_TIMEOUT_S="3", QUORUM_PROVIDER_TIMEOUT_S="42")
    async with quorum(env, tmp_path) as q:
        await q.ok("chat", prompt="hello", model="gpt5")
        client = q.services.registry.provider("openai")._get_client()
        assert (client.timeout.connect, client.timeout.read) == (3.0, 42.0)
        assert client.max_retries == 0  # retries belong to Quorum's wrapper, with backoff and failover
