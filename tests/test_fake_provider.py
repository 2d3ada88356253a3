"""The fake provider server speaks the real wire formats: checked with the real SDKs."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.fakes import FakeProviderControl, FakeProviderServer, ReplySpec

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def oai(fake_server: FakeProviderServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=fake_server.openai_url, api_key="sk-test", max_retries=0, timeout=10)
    yield client
    await client.close()


@pytest.fixture
async def gem(fake_server: FakeProviderServer) -> AsyncIterator[genai.Client]:
    client = genai.Client(api_key="g-test", http_options=types.HttpOptions(base_url=fake_server.url,
                                                                           api_version="v1beta"))
    yield client
    await client.aio.aclose()


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


# ---- default replies and the request log ------------------------------------------------------

async def test_unscripted_chat_gets_a_deterministic_reply_echoing_the_last_user_message(oai, fake_server) -> None:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"}, {"role": "user", "content": "x" * 100}]
    first = await oai.chat.completions.create(model="gpt-fake", messages=messages)
    second = await oai.chat.completions.create(model="gpt-fake", messages=user("again"))

    assert first.choices[0].message.content == f"[fake:gpt-fake] reply #1 to: {'x' * 60}"
    assert second.choices[0].message.content == "[fake:gpt-fake] reply #2 to: again"
    assert first.usage.prompt_tokens == (3 + 5 + 2 + 100 + 3) // 4
    assert first.usage.completion_tokens > 0


async def test_every_request_is_recorded_with_method_path_headers_query_and_body(oai, fake_server) -> None:
    await oai.chat.completions.create(model="gpt-fake", messages=user("hello"), temperature=0.2)

    [rec] = fake_server.wait_for_requests(1, finished=True)
    assert (rec.method, rec.path, rec.kind, rec.model) == ("POST", "/v1/chat/completions", "openai.chat", "gpt-fake")
    assert rec.headers["authorization"] == "Bearer sk-test"
    assert rec.body["temperature"] == 0.2
    assert rec.finished is not None and rec.finished >= rec.arrived
    assert fake_server.chat_requests() == [rec]


async def test_a_streamed_chat_completion_arrives_in_chunks_with_usage_at_the_end(oai, fake_server) -> None:
    fake_server.script(ReplySpec(text="streaming works fine", prompt_tokens=11, completion_tokens=4))
    stream = await oai.chat.completions.create(model="gpt-fake", messages=user("hi"), stream=True,
                                               stream_options={"include_usage": True})
    deltas, usage, finish = [], None, None
    async for chunk in stream:
        if chunk.choices:
            deltas.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage

    assert len([d for d in deltas if d]) > 1
    assert "".join(deltas) == "streaming works fine"
    assert finish == "stop" and usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 4)
    assert fake_server.last_request.stream


async def test_the_responses_api_returns_a_shape_the_sdk_parses(oai, fake_server) -> None:
    fake_server.script(ReplySpec(text="from responses", reasoning_tokens=7, cached_tokens=3))
    response = await oai.responses.create(model="o-fake", input="question", instructions="be terse")

    assert response.output_text == "from responses"
    assert response.status == "completed"
    assert response.usage.output_tokens_details.reasoning_tokens == 7
    assert response.usage.input_tokens_details.cached_tokens == 3
    assert fake_server.last_request.kind == "openai.responses"


async def test_model_lists_are_served_in_both_wire_formats(oai, gem, fake_server) -> None:
    fake_server.configure(models=["m-one", "m-two"])
    openai_ids = [m.id async for m in await oai.models.list()]
    gemini_names = [m.name async for m in await gem.aio.models.list()]

    assert openai_ids == ["m-one", "m-two"]
    assert gemini_names == ["models/m-one", "models/m-two"]


@pytest.mark.parametrize("path", ["/openai/deployments/dep-1/chat/completions?api-version=2024-10-21",
                                  "/api/v1/chat/completions", "/v1/chat/completions"])
async def test_chat_completions_are_routed_under_any_prefix(fake_server, path: str) -> None:
    client = openai.AsyncOpenAI(base_url=fake_server.url, api_key="k", max_retries=0)
    try:
        raw = await client.post(path, body={"model": "m", "messages": user("hi")}, cast_to=dict)
    finally:
        await client.close()
    assert raw["choices"][0]["message"]["content"] == "[fake:m] reply #1 to: hi"
    assert fake_server.last_request.kind == "openai.chat"


async def test_gemini_generate_stream_and_count_tokens_speak_the_gemini_format(gem, fake_server) -> None:
    fake_server.script(ReplySpec(text="one reply", reasoning_tokens=5, cached_tokens=2))
    reply = await gem.aio.models.generate_content(
        model="gemini-fake-pro", contents="hello", config=types.GenerateContentConfig(system_instruction="sys"))
    pieces = [c.text async for c in await gem.aio.models.generate_content_stream(model="gemini-fake-pro",
                                                                                contents="stream me")]
    count = await gem.aio.models.count_tokens(model="gemini-fake-pro", contents="12345678")

    assert reply.text == "one reply"
    assert (reply.usage_metadata.thoughts_token_count, reply.usage_metadata.cached_content_token_count) == (5, 2)
    assert "".join(pieces) == "[fake:gemini-fake-pro] reply #2 to: stream me" and len(pieces) > 1
    assert count.total_tokens == 2
    kinds = [(r.kind, r.path, r.query.get("alt")) for r in fake_server.requests]
    assert kinds == [("gemini.generate", "/v1beta/models/gemini-fake-pro:generateContent", None),
                     ("gemini.stream", "/v1beta/models/gemini-fake-pro:streamGenerateContent", "sse"),
                     ("gemini.count", "/v1beta/models/gemini-fake-pro:countTokens", None)]


async def test_gemini_routes_also_answer_under_v1(fake_server) -> None:
    client = genai.Client(api_key="g", http_options=types.HttpOptions(base_url=fake_server.url, api_version="v1"))
    try:
        reply = await client.aio.models.generate_content(model="gemini-fake-flash", contents="hi")
    finally:
        await client.aio.aclose()
    assert reply.text == "[fake:gemini-fake-flash] reply #1 to: hi"
    assert fake_server.last_request.path == "/v1/models/gemini-fake-flash:generateContent"


# ---- scripting -----------------------------------------------------------------------------------

async def test_scripted_replies_are_consumed_in_order_and_then_defaults_resume(oai, fake_server) -> None:
    fake_server.script(ReplySpec(text="first"), {"text": "second"})
    texts = [(await oai.chat.completions.create(model="gpt-fake", messages=user("q"))).choices[0].message.content
             for _ in range(3)]
    assert texts == ["first", "second", "[fake:gpt-fake] reply #3 to: q"]


async def test_a_reply_keyed_by_model_waits_for_a_request_to_that_model(oai, fake_server) -> None:
    fake_server.script(ReplySpec(text="for o-fake", model="o-fake"), ReplySpec(text="for anyone"))
    a = await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    b = await oai.chat.completions.create(model="o-fake", messages=user("q"))
    assert (a.choices[0].message.content, b.choices[0].message.content) == ("for anyone", "for o-fake")


async def test_scripted_http_errors_carry_status_body_and_headers(oai, fake_server) -> None:
    fake_server.script(ReplySpec(status=429, headers={"Retry-After": "9"}), ReplySpec(status=503))
    with pytest.raises(openai.RateLimitError) as limited:
        await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    with pytest.raises(openai.InternalServerError) as unavailable:
        await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    assert limited.value.response.headers["retry-after"] == "9"
    assert unavailable.value.status_code == 503


async def test_content_filter_and_safety_blocks_use_each_wire_formats_signal(oai, gem, fake_server) -> None:
    fake_server.script(ReplySpec(blocked=True), ReplySpec(blocked=True), ReplySpec(prompt_blocked=True))
    chat = await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    answer = await gem.aio.models.generate_content(model="gemini-fake-pro", contents="q")
    prompt = await gem.aio.models.generate_content(model="gemini-fake-pro", contents="q")

    assert chat.choices[0].finish_reason == "content_filter"
    assert answer.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert prompt.prompt_feedback.block_reason == types.BlockedReason.SAFETY and not prompt.candidates


async def test_malformed_json_breaks_sdk_parsing_whole_or_streamed(oai, fake_server) -> None:
    fake_server.script(ReplySpec(malformed=True), ReplySpec(malformed=True))
    with pytest.raises(ValueError):
        await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    with pytest.raises(ValueError):
        async for _ in await oai.chat.completions.create(model="gpt-fake", messages=user("q"), stream=True):
            pass


async def test_a_truncated_stream_fails_part_way_through(oai, gem, fake_server) -> None:
    fake_server.script(ReplySpec(truncate=True, text="a fairly long reply cut short"), ReplySpec(truncate=True))
    received: list[str] = []
    with pytest.raises(openai.APIError):
        async for chunk in await oai.chat.completions.create(model="gpt-fake", messages=user("q"), stream=True):
            received.append(chunk.choices[0].delta.content or "")
    with pytest.raises(Exception) as gemini_failure:
        async for _ in await gem.aio.models.generate_content_stream(model="gemini-fake-pro", contents="q"):
            pass
    assert received and "".join(received) != "a fairly long reply cut short"
    assert not isinstance(gemini_failure.value, genai_errors.APIError)
    assert fake_server.wait_for_requests(2, finished=True)[-1].outcome == "truncated stream"


async def test_a_connection_reset_surfaces_as_a_connection_error(oai, fake_server) -> None:
    fake_server.script(ReplySpec(reset=True))
    with pytest.raises(openai.APIConnectionError):
        await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    assert fake_server.wait_for_requests(1, finished=True)[0].outcome == "connection reset"


async def test_a_hang_outlasts_a_short_client_timeout_and_ends_when_the_client_leaves(oai, fake_server) -> None:
    fake_server.script(ReplySpec(hang=True))
    with pytest.raises(openai.APITimeoutError):
        await oai.chat.completions.create(model="gpt-fake", messages=user("q"), timeout=0.3)
    fake_server.wait_for_requests(1, timeout=5, finished=True)
    assert fake_server.last_request.outcome == "client went away"


async def test_the_default_delay_holds_every_reply_back(oai, fake_server) -> None:
    fake_server.configure(delay=30)
    with pytest.raises(openai.APITimeoutError):
        await oai.chat.completions.create(model="gpt-fake", messages=user("q"), timeout=0.3)


async def test_delayed_requests_are_served_concurrently(oai, fake_server) -> None:
    fake_server.configure(delay=0.3)
    replies = await asyncio.gather(*(oai.chat.completions.create(model="gpt-fake", messages=user(f"q{i}"))
                                     for i in range(12)))

    log = fake_server.wait_for_requests(12, finished=True)
    assert len({r.choices[0].message.content for r in replies}) == 12
    assert max(r.arrived for r in log) < min(r.finished for r in log)


async def test_an_unknown_path_gets_a_404(oai, fake_server) -> None:
    with pytest.raises(openai.NotFoundError):
        await oai.post("/nowhere", body={}, cast_to=dict)


# ---- control API and standalone process -----------------------------------------------------

async def test_the_control_api_scripts_inspects_configures_and_resets(oai, fake_server) -> None:
    control = FakeProviderControl(fake_server.url)
    assert await asyncio.to_thread(control.script, [{"text": "via control"}]) == 1
    reply = await oai.chat.completions.create(model="gpt-fake", messages=user("q"))
    logged = await asyncio.to_thread(control.requests)
    config = await asyncio.to_thread(control.configure, delay=0.5)
    await asyncio.to_thread(control.reset)

    assert reply.choices[0].message.content == "via control"
    assert [r["path"] for r in logged] == ["/v1/chat/completions"] and logged[0]["body"]["model"] == "gpt-fake"
    assert config["delay"] == 0.5
    assert fake_server.requests == [] and fake_server.state.config.delay == 0.0


async def test_the_control_api_rejects_an_invalid_reply_spec(fake_server) -> None:
    client = openai.AsyncOpenAI(base_url=fake_server.url, api_key="k", max_retries=0)
    try:
        with pytest.raises(openai.BadRequestError):
            await client.post("/_control/script", body=[{"no_such_field": 1}], cast_to=dict)
    finally:
        await client.close()


async def test_the_fake_runs_as_a_process_printing_its_url_and_obeying_the_control_api() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.fake_provider", "--port", "0", "--delay", "0",
        cwd=REPO, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode().strip()
        control = FakeProviderControl(url)
        await asyncio.to_thread(control.script, [{"text": "from the process"}])
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        try:
            reply = await client.chat.completions.create(model="gpt-fake", messages=user("q"))
        finally:
            await client.close()
        logged = await asyncio.to_thread(control.requests)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert url.startswith("http://127.0.0.1:")
    assert reply.choices[0].message.content == "from the process"
    assert len(logged) == 1


def test_stopping_the_server_ends_a_hang_whose_client_is_still_waiting() -> None:
    server = FakeProviderServer().start()
    server.script(ReplySpec(hang=True))
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
              b"Content-Length: 17\r\n\r\n{\"model\": \"hang\"}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(request)
        server.wait_for_requests(1, timeout=5)
        server.stop(timeout=5)
    assert server.requests[0].outcome == "server stopping"
