"""A client spawning Quorum with little or no configuration gets a working, self-explaining server."""

from __future__ import annotations

import json

from simulator_tests.conftest import Lab
from tests.fakes.spawn import clean_environ
from tools.version import VERSION

CORE_TOOLS = {"chat", "challenge", "listmodels", "version", "threads"}


async def test_with_only_custom_api_url_tools_list_answers_and_listmodels_shows_the_model_and_what_else_to_configure(
    lab: Lab,
) -> None:
    async with lab.session() as quorum:
        listed = await quorum.client.list_tools()
        names = {tool.name for tool in listed.tools}
        assert CORE_TOOLS <= names
        for tool in listed.tools:
            assert tool.input_schema.get("type") == "object", tool.name
            assert tool.description, tool.name

        models = await quorum.ok("listmodels")
        assert "gpt-fake" in models.content
        assert models.metadata["configured_providers"] == ["custom"]
        # What is not configured, and the variable that would configure it.
        assert "Not configured" in models.content
        for variable in ("GEMINI_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"):
            assert variable in models.content

        chat = await quorum.ok("chat", prompt="Is this thing on?")
        assert chat.metadata["model_used"] == "gpt-fake"
        assert chat.metadata["provider_used"] == "custom"
        assert "Is this thing on?" in chat.content  # the fake echoes the prompt it was sent
        assert lab.generations()[0]["body"]["model"] == "gpt-fake"


async def test_with_no_provider_the_server_starts_listmodels_explains_and_chat_names_the_variable_to_set(
    lab: Lab,
) -> None:
    bare = clean_environ({"QUORUM_HOME": str(lab.home), "LOG_LEVEL": "WARNING"})
    async with lab.session(bare) as quorum:
        names = {tool.name for tool in (await quorum.client.list_tools()).tools}
        assert CORE_TOOLS <= names

        models = await quorum.ok("listmodels")
        assert models.metadata["configured_providers"] == []
        assert "No provider is configured" in models.content
        assert "CUSTOM_API_URL" in models.content and "GEMINI_API_KEY" in models.content

        chat = await quorum.fail("chat", "no_provider", prompt="hello?")
        assert "No model provider is configured" in chat.content
        for variable in ("GEMINI_API_KEY", "OPENAI_API_KEY", "CUSTOM_API_URL"):
            assert variable in chat.content

        version = await quorum.ok("version")
        info = json.loads(version.content)
        assert info["name"] == "quorum" and info["version"] == VERSION == version.metadata["version"]
        assert info["providers"] == []  # the summary agrees with listmodels: nothing configured
        # Nothing was sent anywhere.
        assert lab.fake.control.requests() == []
