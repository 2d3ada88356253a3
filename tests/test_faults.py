"""Fault injection: every kind of provider fault, on both wire formats, through a real MCP client.

Each case opens a thread, scripts a fault on the fake provider for the next call on that thread, and checks
four things: the outcome (an answer after retrying, or a clear error that names provider, model, kind and
whether a retry may help), how many requests reached the provider, that the server answers the next call,
and that the thread holds every completed exchange exactly once and nothing of the failed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from providers.base import GenerateRequest, Message, Provider
from providers.catalogue import ModelSpec
from providers.errors import ProviderError
from providers.gemini import GeminiProvider
from providers.openai_compat import OpenAICompatibleProvider
from providers.resilient import RetryPolicy, call_with_retries
from tests.client import ToolClient
from tests.env_quorum import quorum
from tests.fakes import FakeProviderServer, ReplySpec
from tests.wire_support import GEMINI, OPENAI, WIRES, Wire, warm_sdks, wire_env

RECOVERED = "RECOVERED-ANSWER"
# QUORUM_MAX_RETRIES=2 in wire_env: three attempts in all.
BUDGET = 3
# Short enough to keep hang cases quick, long enough that a loaded machine never times out a normal reply.
HANG_TIMEOUT_S = "1"


@dataclass(frozen=True)
class Fault:
    """One row of the table: a scripted fault and what Quorum must make of it."""

    name: str
    script: tuple[dict[str, Any], ...]
    requests: int
    # None: the call recovers and answers RECOVERED. Otherwise the error kind the provider error must name.
    error: str | None = None
    retryable: bool | None = None
    phrase: str = ""
    env: dict[str, str] = field(default_factory=dict)
    wires: tuple[str, ...] = ("openai", "gemini")
    # A Retry-After the retry must wait for (seconds), checked on the fake's arrival times.
    waits: float = 0.0

    def recovers(self) -> bool:
        return self.error is None


def times(n: int, **spec: Any) -> tuple[dict[str, Any], ...]:
    return tuple(dict(spec) for _ in range(n))


def then_ok(*faults: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    return (*faults, {"text": RECOVERED})


HANG = {"QUORUM_PROVIDER_TIMEOUT_S": HANG_TIMEOUT_S}
RETRY_INFO_BODY = {"error": {"code": 429, "message": "quota exceeded", "status": "RESOURCE_EXHAUSTED", "details": [
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.3s"}]}}

FAULTS: tuple[Fault, ...] = (
    # 5xx bursts: shorter than the retry budget recover; as long as it fail as retryable.
    Fault("one 500 is retried", then_ok({"status": 500}), requests=2),
    Fault("two 502s are retried", then_ok(*times(2, status=502)), requests=3),
    Fault("500 502 503 burst within budget", then_ok({"status": 500}, {"status": 502}), requests=3),
    Fault("503 burst outlasting the budget", times(BUDGET, status=503), requests=BUDGET,
          error="transient", retryable=True, phrase="server error (HTTP 503"),
    Fault("502 html page from a proxy is retried", then_ok({"status": 502, "body": "<html>Bad Gateway</html>"}),
          requests=2),
    # 429: Retry-After (seconds, milliseconds, HTTP date, Gemini RetryInfo) honoured; without it, backoff.
    Fault("429 with Retry-After waits then retries", then_ok({"status": 429, "headers": {"Retry-After": "0.4"}}),
          requests=2, waits=0.4),
    Fault("429 with retry-after-ms waits then retries",
          then_ok({"status": 429, "headers": {"retry-after-ms": "300"}}), requests=2, waits=0.3),
    Fault("429 with a past HTTP-date Retry-After retries at once",
          then_ok({"status": 429, "headers": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}}), requests=2),
    Fault("429 with Gemini RetryInfo waits then retries", then_ok({"status": 429, "body": RETRY_INFO_BODY}),
          requests=2, waits=0.3, wires=("gemini",)),
    Fault("429 without Retry-After backs off and retries", then_ok({"status": 429}), requests=2),
    Fault("429 outlasting the budget", times(BUDGET, status=429), requests=BUDGET,
          error="rate_limited", retryable=True, phrase="rate-limited"),
    Fault("429 insufficient_quota is not retried", ({"status": 429, "error_code": "insufficient_quota",
                                                     "error_message": "You exceeded your current quota."},),
          requests=1, error="auth", retryable=False, phrase="out of quota", wires=("openai",)),
    Fault("500 then 429 then success", then_ok({"status": 500}, {"status": 429, "headers": {"Retry-After": "0"}}),
          requests=3),
    # A hung connection: the per-call timeout ends it, and the call is retried.
    Fault("a hang past the timeout is retried", then_ok({"hang": True}), requests=2, env=HANG),
    Fault("hangs outlasting the budget", times(2, hang=True), requests=2, error="timeout", retryable=True,
          phrase="QUORUM_PROVIDER_TIMEOUT_S", env={**HANG, "QUORUM_MAX_RETRIES": "1"}),
    # Broken transport and broken replies.
    Fault("a connection reset is retried", then_ok({"reset": True}), requests=2),
    Fault("resets outlasting the budget", times(BUDGET, reset=True), requests=BUDGET, error="transient",
          retryable=True, phrase="lost the connection"),
    Fault("malformed JSON is retried", then_ok({"malformed": True}), requests=2),
    Fault("malformed JSON outlasting the budget", times(BUDGET, malformed=True), requests=BUDGET,
          error="transient", retryable=True, phrase="malformed reply"),
    # The adapters do not stream: a reply cut short is half a JSON body, then either a clean close ('malformed'
    # above) or a TCP reset mid-body ('truncate').
    Fault("a body cut short by a reset is retried", then_ok({"truncate": True}), requests=2),
    Fault("bodies cut short outlasting the budget", times(BUDGET, truncate=True), requests=BUDGET,
          error="transient", retryable=True, phrase="lost the connection"),
    Fault("an empty completion is retried", then_ok({"empty": True}), requests=2),
    Fault("empty completions outlasting the budget", times(BUDGET, empty=True), requests=BUDGET,
          error="empty_response", retryable=True, phrase="returned no text"),
    # Refusals that a retry cannot fix: one request, then a clear error.
    Fault("a withheld answer (content filter) is not retried", ({"blocked": True},), requests=1,
          error="content_blocked", retryable=False, phrase="rephrase the request"),
    Fault("a refused prompt (safety) is not retried", ({"prompt_blocked": True},), requests=1,
          error="content_blocked", retryable=False, phrase="rephrase the request"),
    Fault("401 is not retried", ({"status": 401},), requests=1, error="auth", retryable=False,
          phrase="refused the API key"),
    Fault("403 is not retried", ({"status": 403},), requests=1, error="auth", retryable=False,
          phrase="refused the API key"),
    Fault("400 context too long is not retried", ({"status": 400, "error_code": "context_length_exceeded",
                                                   "error_message": "This model's maximum context length is 8192 "
                                                                    "tokens; you requested 90000 tokens."},),
          requests=1, error="context_too_long", retryable=False, phrase="larger context window"),
    Fault("400 bad request is not retried", ({"status": 400, "error_message": "Unsupported parameter: 'foo'."},),
          requests=1, error="bad_request", retryable=False, phrase="Unsupported parameter"),
    Fault("404 unknown model is not retried", ({"status": 404},), requests=1, error="bad_request", retryable=False,
          phrase="does not know model"),
)

CASES = [pytest.param(WIRES[w], f, id=f"{w}: {f.name}") for f in FAULTS for w in f.wires]


@pytest.fixture(scope="module", autouse=True)
def _sdks_imported() -> None:
    warm_sdks()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def connect(fake_server: FakeProviderServer, tmp_path: Path, project: Path) -> Callable[..., Any]:
    """`async with connect(wires, **env) as quorum`: a Quorum on the fake over the given wires."""

    def open_session(wires: tuple[str, ...], **env: str) -> Any:
        return quorum(wire_env(fake_server.url, tmp_path / "home", wires, **env), project)

    return open_session


def generations(fake: FakeProviderServer) -> int:
    return len(fake.generation_requests())


def assert_clean_thread(thread: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """Exactly the expected (role, content) turns, in order: no partial, duplicated or foreign turn."""
    assert [(t["role"], t["content"]) for t in thread["turns"]] == expected
    roles = [t["role"] for t in thread["turns"]]
    assert all(a != b for a, b in zip(roles, roles[1:])), f"turns do not alternate: {roles}"
    for turn in thread["turns"]:
        if turn["role"] == "assistant":
            assert turn["model"] and turn["provider"], turn


async def answer_of(quorum: ToolClient, prompt: str, thread_id: str, model: str) -> str:
    reply = await quorum.ok("chat", prompt=prompt, continuation_id=thread_id, model=model)
    assert reply.continuation_id == thread_id
    return reply.content


@pytest.mark.parametrize(("wire", "fault"), CASES)
async def test_a_provider_fault_ends_as_tabled_and_leaves_a_serving_server_and_a_clean_thread(
    wire: Wire, fault: Fault, fake_server: FakeProviderServer, connect: Callable[..., Any]
) -> None:
    async with connect((wire.name,), **fault.env) as quorum:
        opening = await quorum.ok("chat", prompt="OPENING", model=wire.model)
        thread_id = opening.continuation_id
        assert thread_id
        before = generations(fake_server)
        fake_server.wait_for_requests(len(fake_server.requests), finished=True)

        fake_server.script(*fault.script)
        reply = await quorum.call("chat", prompt="FAULTED", continuation_id=thread_id, model=wire.model)

        # How many requests the fault cost: one per attempt, never more than the budget.
        sent = fake_server.generation_requests()[before:]
        assert len(sent) == fault.requests, [r.outcome for r in sent]
        assert all(r.model == wire.model for r in sent)
        assert reply.metadata.get("attempts") == fault.requests, reply.envelope

        if fault.recovers():
            assert not reply.is_error and reply.status != "error", reply.envelope
            assert reply.content == RECOVERED
            assert reply.metadata["model_used"] == wire.model
            assert reply.metadata["provider_used"] == wire.vendor
        else:
            assert reply.is_error and reply.status == "error", reply.envelope
            meta = reply.metadata
            assert meta["error_kind"] == "provider_error"
            assert (meta["provider"], meta["model"], meta["retryable"]) == (wire.vendor, wire.model, fault.retryable)
            text = reply.content
            assert f"{wire.vendor} model '{wire.model}' failed ({fault.error})" in text, text
            assert fault.phrase in text, text
            assert ("[retryable: try again shortly]" if fault.retryable else "[not retryable:") in text, text
            assert reply.continuation_id is None
        if fault.waits:
            fake_server.wait_for_requests(len(fake_server.requests), finished=True)
            gap = sent[1].arrived - sent[0].arrived
            # Correctness, not speed: the retry must not come before the provider said it may.
            assert gap >= fault.waits * 0.8, f"retried after {gap:.3f}s despite a {fault.waits}s Retry-After"

        # The server keeps serving, on the same thread.
        assert not fake_server.state.pending_replies(), "the script was not consumed as tabled"
        after = await answer_of(quorum, "AFTERWARDS", thread_id, wire.model)
        thread = await quorum.export(thread_id)

    expected = [("user", "OPENING"), ("assistant", opening.content)]
    if fault.recovers():
        expected += [("user", "FAULTED"), ("assistant", RECOVERED)]
    expected += [("user", "AFTERWARDS"), ("assistant", after)]
    assert_clean_thread(thread, expected)


@pytest.mark.parametrize("wire", [OPENAI, GEMINI], ids=lambda w: w.name)
async def test_a_failed_first_call_creates_no_thread_and_the_next_call_starts_one(
    wire: Wire, fake_server: FakeProviderServer, connect: Callable[..., Any]
) -> None:
    async with connect((wire.name,)) as quorum:
        fake_server.script(*times(BUDGET, status=500))
        await quorum.fail("chat", prompt="NEVER-STORED", model=wire.model)
        listing = await quorum.ok("threads", action="list")
        assert listing.metadata["count"] == 0

        started = await quorum.ok("chat", prompt="STORED", model=wire.model)
        listing = await quorum.ok("threads", action="list")
        assert listing.metadata["count"] == 1 and "NEVER-STORED" not in listing.content
        thread = await quorum.export(str(started.continuation_id))
    assert_clean_thread(thread, [("user", "STORED"), ("assistant", started.content)])


@pytest.mark.parametrize("wire", [OPENAI, GEMINI], ids=lambda w: w.name)
async def test_a_workflow_whose_expert_call_fails_keeps_its_steps_and_can_retry_the_final_step(
    wire: Wire, fake_server: FakeProviderServer, connect: Callable[..., Any]
) -> None:
    step: dict[str, Any] = {"step": "Find why totals are off", "total_steps": 2, "findings": "rounding in sum()",
                            "model": wire.model, "confidence": "medium"}
    async with connect((wire.name,)) as quorum:
        first = await quorum.ok("debug", step_number=1, next_step_required=True, **step)
        thread_id = str(first.continuation_id)
        fake_server.script(*times(BUDGET, status=503))
        failed = await quorum.fail("debug", step_number=2, next_step_required=False, continuation_id=thread_id, **step)
        assert failed.metadata["error_kind"] == "provider_error" and failed.metadata["retryable"] is True
        after_failure = await quorum.export(thread_id)

        done = await quorum.ok("debug", step_number=2, next_step_required=False, continuation_id=thread_id, **step)
        assert done.metadata["model_used"] == wire.model
        finished = await quorum.export(thread_id)

    # The failed final step recorded nothing: one step turn, and the run still has one step.
    assert [t["role"] for t in after_failure["turns"]] == ["user"]
    run = after_failure["state"]["workflow:debug"]
    assert [s["n"] for s in run["steps"]] == [1] and run["status"] == "active"
    # The retried final step recorded its step and the expert's answer once.
    assert [t["role"] for t in finished["turns"]] == ["user", "user", "assistant"]
    assert finished["turns"][-1]["model"] == wire.model


async def test_consensus_reports_a_failing_model_beside_the_answering_one_on_the_other_wire(
    fake_server: FakeProviderServer, connect: Callable[..., Any]
) -> None:
    fake_server.script({"model": GEMINI.model, "status": 401})
    async with connect(("openai", "gemini")) as quorum:
        reply = await quorum.ok("consensus", step="Adopt SQLite WAL mode?",
                                models=[{"model": OPENAI.model, "stance": "for"}, {"model": GEMINI.model}])
        thread = await quorum.export(str(reply.continuation_id))
    seen = {p["model"]: p for p in json.loads(reply.content)["perspectives"]}
    assert seen[OPENAI.model]["status"] == "ok" and seen[OPENAI.model]["answer"]
    assert seen[GEMINI.model]["status"] == "error" and "refused the API key" in seen[GEMINI.model]["error"]
    assert len(fake_server.requests_of("gemini.generate")) == 1  # an auth failure is not retried
    # Only the perspective that exists is on the thread, once.
    answered = [t["model"] for t in thread["turns"] if t["role"] == "assistant"]
    assert answered == [OPENAI.model]


async def test_the_server_keeps_serving_after_a_run_of_every_fault_in_a_row(
    fake_server: FakeProviderServer, connect: Callable[..., Any]
) -> None:
    """Every tabled fault once, back to back on one thread with no retries: nothing leaks into the next call."""
    firsts = [f for f in FAULTS if not f.env and "openai" in f.wires]
    async with connect(("openai",), QUORUM_MAX_RETRIES="0") as quorum:
        opening = await quorum.ok("chat", prompt="OPENING", model=OPENAI.model)
        thread_id = str(opening.continuation_id)
        for fault in firsts:
            fake_server.script(fault.script[0])
            await quorum.fail("chat", prompt=f"FAULT {fault.name}", continuation_id=thread_id, model=OPENAI.model)
        after = await answer_of(quorum, "AFTERWARDS", thread_id, OPENAI.model)
        thread = await quorum.export(thread_id)
    assert_clean_thread(thread, [("user", "OPENING"), ("assistant", opening.content),
                                 ("user", "AFTERWARDS"), ("assistant", after)])


# ---- Retry-After at the unit level: the wrapper's sleep is injected, so the exact wait is observable ----

@dataclass(frozen=True)
class Wait:
    name: str
    reply: dict[str, Any]
    wires: tuple[str, ...]
    expect: Callable[[float], bool]
    base_delay: float = 1.0


WAITS: tuple[Wait, ...] = (
    Wait("Retry-After seconds", {"status": 429, "headers": {"Retry-After": "7"}}, ("openai", "gemini"),
         lambda s: s == 7.0),
    Wait("retry-after-ms", {"status": 429, "headers": {"retry-after-ms": "1500"}}, ("openai", "gemini"),
         lambda s: s == 1.5),
    Wait("Retry-After beyond the cap is capped", {"status": 429, "headers": {"Retry-After": "3600"}},
         ("openai", "gemini"), lambda s: s == RetryPolicy().max_delay),
    Wait("Gemini RetryInfo", {"status": 429, "body": RETRY_INFO_BODY}, ("gemini",), lambda s: s == 0.3),
    Wait("429 without a hint backs off with jitter", {"status": 429}, ("openai", "gemini"),
         lambda s: 0.5 <= s <= 1.0),
    Wait("500 backs off with jitter", {"status": 500}, ("openai", "gemini"), lambda s: 0.5 <= s <= 1.0),
)
WAIT_CASES = [pytest.param(w, wire, id=f"{wire}: {w.name}") for w in WAITS for wire in w.wires]


def adapter(wire: str, fake: FakeProviderServer) -> tuple[Provider, ModelSpec]:
    spec = ModelSpec(model_name=WIRES[wire].model, context_window=64_000, max_output_tokens=4_000)
    if wire == "gemini":
        return GeminiProvider(api_key="fake-gemini-key-0123", base_url=fake.url, models=[spec], timeout=15), spec
    return OpenAICompatibleProvider("custom", base_url=fake.openai_url, models=[spec], timeout=15), spec


@pytest.mark.parametrize(("case", "wire"), WAIT_CASES)
async def test_the_retry_waits_as_long_as_the_provider_asked(
    case: Wait, wire: str, fake_server: FakeProviderServer
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    provider, spec = adapter(wire, fake_server)
    fake_server.script(case.reply, {"text": RECOVERED})
    request = GenerateRequest(model=spec.model_name, system_prompt="", messages=(Message("user", "hi"),))
    try:
        result = await call_with_retries(provider, request, spec, RetryPolicy(base_delay=case.base_delay), sleep=sleep)
    finally:
        await provider.aclose()
    assert result.text == RECOVERED
    assert len(slept) == 1 and case.expect(slept[0]), slept


@pytest.mark.parametrize("wire", ["openai", "gemini"])
async def test_backoff_grows_exponentially_between_attempts_and_stops_at_the_budget(
    wire: str, fake_server: FakeProviderServer
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    provider, spec = adapter(wire, fake_server)
    fake_server.script(*times(5, status=503))
    request = GenerateRequest(model=spec.model_name, system_prompt="", messages=(Message("user", "hi"),))
    try:
        with pytest.raises(ProviderError) as raised:
            await call_with_retries(provider, request, spec, RetryPolicy(max_retries=3, base_delay=1.0), sleep=sleep)
    finally:
        await provider.aclose()
    assert raised.value.retryable and len(fake_server.generation_requests()) == 4
    assert len(slept) == 3
    for attempt, seconds in enumerate(slept):
        assert 2**attempt * 0.5 <= seconds <= 2**attempt, slept


# ---- failover ----------------------------------------------------------------------------------------

KIND = {"openai": "openai.chat", "gemini": "gemini.generate"}


@dataclass(frozen=True)
class Failover:
    """The primary keeps failing with `fault`; `answers` is the wire expected to answer (None: nobody)."""

    name: str
    primary: Wire
    fault: dict[str, Any]
    faults: int
    answers: Wire | None
    phrase: str = ""


FAILOVERS: tuple[Failover, ...] = (
    Failover("503s on the OpenAI wire fail over to Gemini", OPENAI, {"status": 503}, BUDGET, answers=GEMINI),
    Failover("429s on the Gemini wire fail over to the OpenAI wire", GEMINI, {"status": 429}, BUDGET, answers=OPENAI),
    Failover("a refused key fails over at once", OPENAI, {"status": 401}, 1, answers=GEMINI),
    Failover("a content block does not fail over", GEMINI, {"blocked": True}, 1, answers=None,
             phrase="withheld its answer"),
    Failover("when every model fails the error lists them all", OPENAI, {"status": 500}, BUDGET * 2, answers=None,
             phrase="No model answered (failover tried"),
)


@pytest.mark.parametrize("case", FAILOVERS, ids=lambda c: c.name)
async def test_a_primary_that_keeps_failing_fails_over_and_metadata_names_the_model_that_answered(
    case: Failover, fake_server: FakeProviderServer, connect: Callable[..., Any]
) -> None:
    primary = case.primary
    other = GEMINI if primary is OPENAI else OPENAI
    chain = f"{OPENAI.model}>{GEMINI.model};{GEMINI.model}>{OPENAI.model}"
    every_model_fails = case.faults > BUDGET
    async with connect(("openai", "gemini"), QUORUM_FAILOVER=chain) as quorum:
        opening = await quorum.ok("chat", prompt="OPENING", model=primary.model)
        thread_id = str(opening.continuation_id)
        before = {w.name: len(fake_server.requests_of(KIND[w.name])) for w in (OPENAI, GEMINI)}
        fake_server.script(*(ReplySpec(model=primary.model, **case.fault) for _ in range(min(case.faults, BUDGET))))
        if every_model_fails:
            fake_server.script(*(ReplySpec(model=other.model, **case.fault) for _ in range(BUDGET)))
        reply = await quorum.call("chat", prompt="FAIL OVER", continuation_id=thread_id, model=primary.model)
        thread = await quorum.export(thread_id)
    calls = {w.name: len(fake_server.requests_of(KIND[w.name])) - before[w.name] for w in (OPENAI, GEMINI)}
    assert calls[primary.name] == min(case.faults, BUDGET)

    if case.answers is not None:
        assert not reply.is_error, reply.envelope
        assert (reply.metadata["model_used"], reply.metadata["provider_used"]) == (other.model, other.vendor)
        assert [h["model"] for h in reply.metadata["failover"]] == [primary.model]
        assert calls[other.name] == 1
        assert (thread["turns"][-1]["model"], thread["turns"][-1]["provider"]) == (other.model, other.vendor)
        assert [t["content"] for t in thread["turns"]][2:] == ["FAIL OVER", reply.content]
    else:
        assert reply.is_error and reply.metadata["error_kind"] == "provider_error", reply.envelope
        assert case.phrase in reply.content, reply.content
        assert calls[other.name] == (BUDGET if every_model_fails else 0)
        if every_model_fails:
            assert [h["model"] for h in reply.metadata["failover"]] == [primary.model, other.model]
        assert len(thread["turns"]) == 2  # the opening exchange only

