"""The simple tools through a real MCP client connected in memory to the real server object."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from providers.errors import AuthError, RetryableError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_tools() -> list[str]:
    """The tool names of the README's Tools table, in the order it lists them."""
    section = README.read_text(encoding="utf-8").split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)


async def test_the_server_serves_every_tool_the_readme_lists_in_its_order_and_no_other(harness):
    async with harness.connect() as client:
        served = [t.name for t in (await client.list_tools()).tools]
    documented = readme_tools()
    assert len(documented) == 18, documented  # the table itself was read
    assert served == documented


async def test_tools_list_offers_flat_small_schemas_generated_from_models(harness):
    async with harness.connect() as client:
        listed = await client.list_tools()
    names = {t.name for t in listed.tools}
    assert {"chat", "challenge", "listmodels", "version", "threads"} <= names
    for tool in listed.tools:
        schema = tool.input_schema
        assert schema["type"] == "object"
        assert "$defs" not in json.dumps(schema)
        assert "anyOf" not in schema and "oneOf" not in schema
        assert schema["additionalProperties"] is False
        assert len(tool.description) < 2048
    chat = next(t for t in listed.tools if t.name == "chat")
    assert chat.input_schema["required"] == ["prompt"]
    assert {"model", "continuation_id", "absolute_file_paths", "images", "temperature", "thinking_mode",
            "working_directory_absolute_path"} <= set(chat.input_schema["properties"])


async def test_chat_answers_and_offers_a_continuation(harness):
    body = await harness.ok("chat", prompt="What is 2+2?", model="alpha")
    assert body["status"] == "continuation_available"
    assert body["content"].startswith("[alpha] answer")
    assert body["metadata"]["model_used"] == "alpha"
    assert body["metadata"]["provider_used"] == "custom"
    offer = body["continuation_offer"]
    assert offer["continuation_id"] and offer["remaining_turns"] > 0
    sent = harness.fakes["custom"].calls[0]
    assert "senior engineer" in sent.system_prompt
    assert "What is 2+2?" in sent.messages[-1].content


async def test_second_model_sees_first_exchange_and_the_file_once(harness):
    src = harness.workdir / "calc.py"
    src.write_text("def add(a, b):\n    return a + b\n")
    first = await harness.ok("chat", prompt="Review add()", model="alpha", absolute_file_paths=[str(src)])
    cid = first["continuation_offer"]["continuation_id"]
    harness.fakes["openai"].queue("critique from beta")
    second = await harness.ok(
        "chat", prompt="Critique that", model="beta", continuation_id=cid, absolute_file_paths=[str(src)]
    )
    assert second["content"] == "critique from beta"
    text = harness.fakes["openai"].calls[0].messages[-1].content
    assert "Review add()" in text and first["content"] in text and "Critique that" in text
    assert text.count("def add(a, b):") == 1
    assert text.count(f"BEGIN FILE: {src}") == 1


async def test_a_file_changed_since_it_was_shared_is_reembedded_and_marked(harness):
    src = harness.workdir / "x.py"
    src.write_text("x = 1\n")
    first = await harness.ok("chat", prompt="look", model="alpha", absolute_file_paths=[str(src)])
    cid = first["continuation_offer"]["continuation_id"]
    src.write_text("x = 2\n")
    await harness.ok("chat", prompt="again", model="alpha", continuation_id=cid)
    text = harness.fakes["custom"].calls[1].messages[-1].content
    assert "x = 2" in text and "x = 1" not in text
    assert "changed" in text.split("x = 2")[0].rsplit("BEGIN FILE", 1)[1]


async def test_consecutive_requests_share_a_byte_identical_prefix(harness):
    files = []
    for i in range(3):
        f = harness.workdir / f"m{i}.py"
        f.write_text(f"# module {i}\n" + "value = 1\n" * 200)
        files.append(str(f))
    body = await harness.ok("chat", prompt="one", model="alpha", absolute_file_paths=files)
    cid = body["continuation_offer"]["continuation_id"]
    await harness.ok("chat", prompt="two", model="alpha", continuation_id=cid, absolute_file_paths=files)
    a = harness.fakes["custom"].calls[0].messages[-1].content
    b = harness.fakes["custom"].calls[1].messages[-1].content
    files_block = a.split("=== END FILES ===")[0]
    assert b.startswith(files_block)


async def test_continuation_works_across_tools_models_and_keeps_order(harness):
    a = await harness.ok("chat", prompt="first", model="alpha")
    cid = a["continuation_offer"]["continuation_id"]
    await harness.ok("chat", prompt="second", model="beta", continuation_id=cid)
    await harness.ok("chat", prompt="third", model="a", continuation_id=cid)
    shown = await harness.ok("threads", action="show", continuation_id=cid)
    text = shown["content"]
    assert text.index("first") < text.index("second") < text.index("third")
    assert shown["metadata"]["turns"] == 6


async def test_auto_mode_picks_a_model_by_tool_category(harness):
    body = await harness.ok("chat", prompt="hi")
    # 'beta' has the higher intelligence score; chat is a balanced tool.
    assert body["metadata"]["model_used"] == "beta"


async def test_model_aliases_resolve_case_insensitively(harness):
    body = await harness.ok("chat", prompt="hi", model="B")
    assert body["metadata"]["model_used"] == "beta"


async def test_unknown_tool_is_a_clear_error_listing_tools(harness):
    body = await harness.fail("nosuchtool", prompt="x")
    assert body["metadata"]["error_kind"] == "unknown_tool"
    assert "chat" in body["content"]


async def test_unknown_field_and_wrong_type_name_the_field(harness):
    body = await harness.fail("chat", prompt="x", colour="red")
    assert body["metadata"]["error_kind"] == "invalid_arguments" and "'colour'" in body["content"]
    body = await harness.fail("chat", prompt="x", temperature="hot")
    assert "'temperature'" in body["content"]
    body = await harness.fail("chat")
    assert "'prompt' is required" in body["content"]


async def test_unknown_model_lists_available_models(harness):
    body = await harness.fail("chat", prompt="x", model="gpt-99")
    assert body["metadata"]["error_kind"] == "unknown_model"
    assert "alpha" in body["content"] and "beta" in body["content"]


async def test_bad_paths_are_refused_with_reasons_and_the_next_call_works(harness):
    relative = await harness.fail("chat", prompt="x", model="alpha", absolute_file_paths=["src/x.py"])
    assert relative["metadata"]["error_kind"] == "path_refused" and "absolute" in relative["content"].lower()
    assert "src/x.py" in relative["content"]
    secret = harness.workdir / ".env"
    secret.write_text("OPENAI_API_KEY=sk-real\n")
    refused = await harness.fail("chat", prompt="x", model="alpha", absolute_file_paths=[str(secret)])
    assert refused["metadata"]["error_kind"] == "path_refused" and str(secret) in refused["content"]
    assert "secret" in refused["content"].lower()
    gone = harness.workdir / "nope.py"
    missing = await harness.fail("chat", prompt="x", model="alpha", absolute_file_paths=[str(gone)])
    assert missing["metadata"]["error_kind"] == "file_missing" and str(gone) in missing["content"]
    outside = await harness.fail("chat", prompt="x", model="alpha", absolute_file_paths=["/etc/hostname"])
    assert outside["metadata"]["error_kind"] == "path_refused" and "/etc" in outside["content"]
    assert harness.fakes["custom"].calls == []
    await harness.ok("chat", prompt="fine now", model="alpha")


async def test_unknown_thread_says_to_start_without_continuation(harness):
    body = await harness.fail("chat", prompt="x", continuation_id="00000000-0000-0000-0000-000000000000")
    assert body["metadata"]["error_kind"] == "unknown_thread"
    assert "without continuation_id" in body["content"]


async def test_oversized_prompt_is_refused_and_prompt_txt_is_accepted(harness):
    big = "word " * 20_000
    body = await harness.fail("chat", prompt=big, model="alpha")
    assert body["metadata"]["error_kind"] == "prompt_too_large" and "prompt.txt" in body["content"]
    prompt_file = harness.workdir / "prompt.txt"
    prompt_file.write_text(big + "THE END")
    ok = await harness.ok("chat", prompt="", model="alpha", absolute_file_paths=[str(prompt_file)])
    assert ok["status"] == "continuation_available"
    sent = harness.fakes["custom"].calls[-1].messages[-1].content
    assert "THE END" in sent and "BEGIN FILE" not in sent


async def test_full_thread_is_refused_clearly_and_records_nothing(harness_factory):
    h = await harness_factory({"MAX_CONVERSATION_TURNS": "4"})
    first = await h.ok("chat", prompt="1", model="alpha")
    cid = first["continuation_offer"]["continuation_id"]
    await h.ok("chat", prompt="2", model="alpha", continuation_id=cid)
    body = await h.fail("chat", prompt="3", model="alpha", continuation_id=cid)
    assert body["metadata"]["error_kind"] == "thread_full" and "MAX_CONVERSATION_TURNS" in body["content"]
    shown = await h.ok("threads", action="show", continuation_id=cid)
    assert shown["metadata"]["turns"] == 4
    await h.ok("chat", prompt="new thread", model="alpha")


async def test_provider_failure_is_reported_and_leaves_the_thread_intact(harness_factory):
    h = await harness_factory({"QUORUM_RETRY_BASE_DELAY_S": "0"})
    first = await h.ok("chat", prompt="1", model="alpha")
    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["custom"].queue(AuthError("key refused", provider="custom", model="alpha", status=401))
    body = await h.fail("chat", prompt="2", model="alpha", continuation_id=cid)
    assert body["metadata"]["error_kind"] == "provider_error"
    assert body["metadata"]["retryable"] is False and "custom" in body["content"]
    h.fakes["custom"].queue(RetryableError("503", provider="custom", model="alpha"))
    recovered = await h.ok("chat", prompt="3", model="alpha", continuation_id=cid)
    assert recovered["metadata"]["attempts"] == 2
    shown = await h.ok("threads", action="show", continuation_id=cid)
    assert shown["metadata"]["turns"] == 4


async def test_no_provider_configured_gives_actionable_errors(harness_factory):
    h = await harness_factory({"CUSTOM_API_URL": "", "OPENAI_API_KEY": ""})
    h.services.registry._providers.clear()  # the fakes were injected; simulate a machine with no keys
    body = await h.fail("chat", prompt="hi")
    assert body["metadata"]["error_kind"] == "no_provider"
    assert "GEMINI_API_KEY" in body["content"] and "CUSTOM_API_URL" in body["content"]


async def test_listmodels_groups_by_provider_and_explains_the_unconfigured(harness):
    body = await harness.ok("listmodels")
    text = body["content"]
    assert "`alpha`" in text and "`beta`" in text
    assert "Not configured" in text and "GEMINI_API_KEY" in text


async def test_large_output_is_spilled_to_a_file_whose_path_is_returned(harness_factory):
    h = await harness_factory({"MAX_MCP_OUTPUT_TOKENS": "1000"})
    h.fakes["custom"].queue("line of output\n" * 2_000)
    body = await h.ok("chat", prompt="long please", model="alpha", working_directory_absolute_path=str(h.workdir))
    path = Path(body["metadata"]["output_file"])
    assert body["metadata"]["output_truncated"] is True
    assert path.read_text() == "line of output\n" * 2_000
    assert path.is_relative_to(h.workdir)
    assert len(body["content"]) < 1000 * 4


async def test_threads_lists_exports_and_deletes(harness):
    a = await harness.ok("chat", prompt="alpha question", model="alpha")
    cid = a["continuation_offer"]["continuation_id"]
    listed = await harness.ok("threads")
    assert cid in listed["content"] and "alpha question" in listed["content"]
    exported = await harness.ok("threads", action="export", continuation_id=cid)
    data = json.loads(exported["content"])
    assert data["thread_id"] == cid and len(data["turns"]) == 2
    await harness.ok("threads", action="delete", continuation_id=cid)
    gone = await harness.fail("threads", action="show", continuation_id=cid)
    assert gone["metadata"]["error_kind"] == "unknown_thread"


async def test_challenge_wraps_the_statement_without_calling_a_model(harness):
    body = await harness.ok("challenge", prompt="You are wrong about the cache")
    data = json.loads(body["content"])
    assert data["original_statement"] == "You are wrong about the cache"
    assert "Do not agree by reflex" in data["challenge_prompt"]
    assert harness.fakes["custom"].calls == [] and harness.fakes["openai"].calls == []


async def test_version_reports_configuration_and_tool_list_weight(harness):
    body = await harness.ok("version")
    info = json.loads(body["content"])
    assert info["storage"]["backend"] == "memory"
    assert set(info["providers"]) == {"openai", "custom"}
    assert info["tools_list"]["cl100k_tokens"] > 0


async def test_each_tool_is_offered_as_a_prompt(harness):
    async with harness.connect() as client:
        prompts = await client.list_prompts()
        got = await client.get_prompt("quorum-chat", {"prompt": "is this safe?"})
    # Prefixed: clients turn prompts into slash commands, and a bare "chat" clashes with Gemini CLI's /chat.
    assert {"quorum-chat", "quorum-threads", "quorum-listmodels"} <= {p.name for p in prompts.prompts}
    assert all(p.name.startswith("quorum-") for p in prompts.prompts)
    assert "chat" in got.messages[0].content.text and "is this safe?" in got.messages[0].content.text


async def test_disabled_tools_are_hidden_but_listmodels_and_version_stay(harness_factory):
    h = await harness_factory({"DISABLED_TOOLS": "chat,version,listmodels"})
    async with h.connect() as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert "chat" not in names and {"version", "listmodels"} <= names


async def test_ten_simultaneous_calls_are_in_flight_together(harness):
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def gated(request, spec):
        # No answer until ten calls are waiting here at once: calls served one at a time time out.
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak >= 10:
            release.set()
        await asyncio.wait_for(release.wait(), timeout=10)
        in_flight -= 1
        asked = re.findall(r"\bq\d\b", request.messages[-1].content)[-1]
        return f"answer to {asked}"

    harness.fakes["custom"].respond = gated
    async with harness.session() as client:
        results = await asyncio.gather(*(client.ok("chat", prompt=f"q{i}", model="alpha") for i in range(10)))
    assert peak == 10
    assert sorted(r.content for r in results) == sorted(f"answer to q{i}" for i in range(10))
