"""consensus through a real MCP client: one call, every model at once, each blind to the others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from providers.base import GenerateRequest
from providers.catalogue import ModelSpec
from providers.errors import AuthError, ContentBlockedError
from tests.conftest import Harness
from tools.consensus import CONSENSUS_COMPLETE, ConsensusTool
from tools.pipeline.listing import tools_list_weight

THREE = [
    {"model": "alpha", "stance": "for"},
    {"model": "beta", "stance": "against"},
    {"model": "gamma"},
]
STANCE_MARKERS = {"for": "Argue in favour", "against": "Argue against", "neutral": "Judge evenly"}


@pytest.fixture
def build(harness_factory, catalogue):
    """A harness with a third model 'gamma' beside alpha on the custom vendor."""
    custom = catalogue(
        "custom_three",
        [
            {"model_name": "alpha", "aliases": ["a"], "context_window": 64_000, "max_output_tokens": 4_000, "intelligence_score": 8},
            {"model_name": "gamma", "aliases": ["g"], "context_window": 64_000, "max_output_tokens": 4_000, "intelligence_score": 9},
        ],
    )

    async def make(**env: Any) -> Harness:
        return await harness_factory({"CUSTOM_MODELS_CONFIG_PATH": custom, "QUORUM_RETRY_BASE_DELAY_S": "0", **env})

    return make


@pytest.fixture
async def h(build) -> Harness:
    return await build()


def all_calls(h: Harness) -> list[GenerateRequest]:
    return [*h.fakes["custom"].calls, *h.fakes["openai"].calls]


def sent_text(request: GenerateRequest) -> str:
    return request.system_prompt + "\n".join(m.content for m in request.messages)


def perspectives(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    data = json.loads(body["content"])
    return {(p["model"], p["stance"]): p for p in data["perspectives"]}


async def test_three_models_answer_in_one_call_each_with_its_stance(h):
    body = await h.ok("consensus", step="Move the API from Express to Fastify?", models=THREE)
    assert body["status"] == CONSENSUS_COMPLETE and body["content_type"] == "json"
    got = perspectives(body)
    assert set(got) == {("alpha", "for"), ("beta", "against"), ("gamma", "neutral")}
    assert all(p["status"] == "ok" and p["answer"] for p in got.values())
    calls = all_calls(h)
    assert sorted(c.model for c in calls) == ["alpha", "beta", "gamma"]
    stance_of = {"alpha": "for", "beta": "against", "gamma": "neutral"}
    for call in calls:
        own = STANCE_MARKERS[stance_of[call.model]]
        assert own in call.system_prompt
        assert not any(m in call.system_prompt for m in STANCE_MARKERS.values() if m != own)
        assert "Move the API from Express to Fastify?" in call.messages[-1].content
    meta = body["metadata"]
    assert {m["model"] for m in meta["models"]} == {"alpha", "beta", "gamma"}
    assert all(m["tokens"]["input"] > 0 and m["status"] == "ok" for m in meta["models"])
    assert meta["cost_usd"] >= 0 and meta["wall_time_s"] >= 0 and meta["synthesis"] is None


async def test_one_model_can_argue_two_stances_and_a_custom_stance_prompt_replaces_the_default(h):
    models = [
        {"model": "alpha", "stance": "for"},
        {"model": "alpha", "stance": "against", "stance_prompt": "Focus only on the migration cost."},
    ]
    body = await h.ok("consensus", step="Adopt Fastify?", models=models)
    assert set(perspectives(body)) == {("alpha", "for"), ("alpha", "against")}
    prompts = sorted(c.system_prompt for c in h.fakes["custom"].calls)
    custom = [p for p in prompts if "Focus only on the migration cost." in p]
    assert len(custom) == 1 and STANCE_MARKERS["against"] not in custom[0]
    assert sum(STANCE_MARKERS["for"] in p for p in prompts) == 1


def opinion(request: GenerateRequest, spec: ModelSpec) -> str:
    """Each model's answer names the model and the proposal it was asked about."""
    proposal = "two" if "Proposal two" in request.messages[-1].content else "one"
    return f"{spec.model_name.upper()}-ON-{proposal.upper()} opinion"


async def test_no_model_sees_another_models_answer_from_the_same_round(h):
    for fake in h.fakes.values():
        fake.respond = opinion
    first = await h.ok("consensus", step="Proposal one", models=THREE)
    round_one = [p["answer"] for p in perspectives(first).values()]
    assert sorted(round_one) == ["ALPHA-ON-ONE opinion", "BETA-ON-ONE opinion", "GAMMA-ON-ONE opinion"]
    for call in all_calls(h):
        assert not any(answer in sent_text(call) for answer in round_one)

    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["custom"].calls.clear()
    h.fakes["openai"].calls.clear()
    second = await h.ok("consensus", step="Proposal two", models=THREE, continuation_id=cid)
    round_two = [p["answer"] for p in perspectives(second).values()]
    assert sorted(round_two) == ["ALPHA-ON-TWO opinion", "BETA-ON-TWO opinion", "GAMMA-ON-TWO opinion"]
    for call in all_calls(h):
        text = sent_text(call)
        assert all(answer in text for answer in round_one)  # the earlier round is history
        assert not any(answer in text for answer in round_two)  # this round stays blind


async def test_all_requests_are_in_flight_at_the_same_time(h):
    arrived = 0
    everyone_here = asyncio.Event()

    async def gated(request: GenerateRequest, spec: ModelSpec) -> str:
        # No answer until all three calls are waiting here: a one-at-a-time consensus times out.
        nonlocal arrived
        arrived += 1
        if arrived == 3:
            everyone_here.set()
        await asyncio.wait_for(everyone_here.wait(), timeout=10)
        return f"{spec.model_name} answered"

    for fake in h.fakes.values():
        fake.respond = gated
    body = await h.ok("consensus", step="Ship it?", models=THREE)
    assert arrived == 3
    assert {p["answer"] for p in perspectives(body).values()} == {"alpha answered", "beta answered", "gamma answered"}


async def test_a_failing_model_is_reported_beside_the_others(h):
    h.fakes["openai"].queue(AuthError("key refused", provider="openai", model="beta", status=401))
    body = await h.ok("consensus", step="Ship it?", models=THREE)
    got = perspectives(body)
    assert got[("beta", "against")]["status"] == "error"
    assert "key refused" in got[("beta", "against")]["error"] and got[("beta", "against")]["answer"] is None
    assert got[("alpha", "for")]["status"] == "ok" and got[("gamma", "neutral")]["status"] == "ok"
    assert json.loads(body["content"])["answered"] == "2/3"
    assert "beta" not in body["metadata"]["model_used"].split(", ")  # only models that answered
    failed = next(m for m in body["metadata"]["models"] if m["model"] == "beta")
    assert failed["status"] == "error" and failed["attempts"] == 1
    cid = body["continuation_offer"]["continuation_id"]
    shown = await h.ok("threads", action="show", continuation_id=cid)
    assert shown["metadata"]["turns"] == 3  # the proposal and the two answers


async def test_a_model_that_hangs_times_out_alone(build):
    h = await build(QUORUM_PROVIDER_TIMEOUT_S="0.2", QUORUM_MAX_RETRIES="0")
    never = asyncio.Event()

    async def hang(request: GenerateRequest, spec: ModelSpec) -> str:
        await never.wait()
        return "never sent"

    h.fakes["openai"].respond = hang
    body = await h.ok("consensus", step="Ship it?", models=THREE)
    beta = perspectives(body)[("beta", "against")]
    assert beta["status"] == "error" and "within" in beta["error"]
    assert perspectives(body)[("alpha", "for")]["status"] == "ok"


async def test_when_every_model_fails_the_error_names_each_reason(h):
    def blocked(request: GenerateRequest, spec: ModelSpec) -> str:
        raise ContentBlockedError("refused by policy", provider="custom", model=spec.model_name)

    h.fakes["custom"].respond = blocked
    h.fakes["openai"].queue(AuthError("key refused", provider="openai", model="beta", status=401))
    body = await h.fail("consensus", step="Ship it?", models=THREE)
    assert body["metadata"]["error_kind"] == "provider_error"
    assert "alpha" in body["content"] and "beta" in body["content"] and "gamma" in body["content"]
    assert "key refused" in body["content"] and "refused by policy" in body["content"]
    assert {f["model"] for f in body["metadata"]["failures"]} == {"alpha", "beta", "gamma"}
    assert "Ship it?" not in (await h.ok("threads"))["content"]  # nothing was recorded


def view_or_synthesis(request: GenerateRequest, spec: ModelSpec) -> str:
    """A perspective names its model; the synthesis call (asked for a recommendation) answers with one."""
    if "Recommendation" in request.system_prompt:
        return "MERGED RECOMMENDATION"
    return f"VIEW-OF-{spec.model_name.upper()}"


async def test_synthesis_model_receives_every_perspective(h):
    for fake in h.fakes.values():
        fake.respond = view_or_synthesis
    body = await h.ok("consensus", step="Ship it?", models=THREE, synthesis_model="b")
    data = json.loads(body["content"])
    assert data["synthesis"]["status"] == "ok" and data["synthesis"]["answer"] == "MERGED RECOMMENDATION"
    synthesis_call = h.fakes["openai"].calls[-1]
    text = synthesis_call.messages[-1].content
    assert all(view in text for view in ("VIEW-OF-ALPHA", "VIEW-OF-BETA", "VIEW-OF-GAMMA"))
    assert "stance: for" in text and "stance: against" in text and "stance: neutral" in text
    assert "Recommendation" in synthesis_call.system_prompt
    assert body["metadata"]["synthesis"]["model"] == "beta"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"models": [{"model": "alpha"}]}, "2 to 10 entries"),
        ({"models": []}, "2 to 10 entries"),
        ({"models": [{"model": "alpha", "stance": "for"}, {"model": "ALPHA", "stance": "for"}]}, "again"),
        ({"models": [{"model": "alpha", "stance": "for"}, {"model": "a", "stance": "for"}]}, "again"),
        ({"models": THREE, "model": "beta"}, "'models'"),
        ({"models": [{"model": "alpha", "stance": "maybe"}, {"model": "beta"}]}, "stance"),
    ],
)
async def test_bad_model_lists_are_invalid_arguments_before_any_call(h, arguments, says):
    body = await h.fail("consensus", step="Ship it?", **arguments)
    assert body["metadata"]["error_kind"] == "invalid_arguments"
    assert says in body["content"]
    assert all_calls(h) == []


async def test_unknown_models_are_listed_together_before_any_call(h):
    models = [{"model": "alpha"}, {"model": "gpt-99", "stance": "for"}]
    body = await h.fail("consensus", step="Ship it?", models=models, synthesis_model="nope-1")
    assert body["metadata"]["error_kind"] == "unknown_model"
    text = body["content"]
    assert "gpt-99" in text and "nope-1" in text
    assert "Available models" in text and "beta" in text and "gamma" in text
    assert all_calls(h) == []


async def test_files_reach_every_model(h):
    src = h.workdir / "server.js"
    src.write_text("const app = express();\n")
    await h.ok("consensus", step="Port this?", models=THREE, relevant_files=[str(src)])
    for call in all_calls(h):
        assert "const app = express();" in call.messages[-1].content


async def test_images_go_only_to_models_that_accept_them(h):
    picture = h.workdir / "diagram.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    body = await h.ok("consensus", step="Is this design sound?", models=THREE, images=[str(picture)])
    assert all("does not accept images" in p["note"] for p in perspectives(body).values())
    assert all(c.images == () for c in all_calls(h))


async def test_the_thread_records_every_perspective_and_a_later_chat_sees_them(h):
    for fake in h.fakes.values():
        fake.respond = view_or_synthesis
    body = await h.ok("consensus", step="Adopt Fastify?", models=THREE, synthesis_model="beta")
    cid = body["continuation_offer"]["continuation_id"]
    exported = json.loads((await h.ok("threads", action="export", continuation_id=cid))["content"])
    turns = exported["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "assistant", "assistant", "assistant"]
    assert "Adopt Fastify?" in turns[0]["content"]
    recorded = {(t["model"], t["metadata"]["stance"]) for t in turns[1:4]}
    assert recorded == {("alpha", "for"), ("beta", "against"), ("gamma", "neutral")}
    assert all(t["provider"] for t in turns[1:])
    assert all(f"VIEW-OF-{t['model'].upper()}" in t["content"] for t in turns[1:4])
    assert turns[4]["metadata"]["consensus"] == "synthesis" and "MERGED RECOMMENDATION" in turns[4]["content"]
    assert all(t["metadata"]["consensus"] == "perspective" and t["usage"]["output"] > 0 for t in turns[1:4])
    # What the turns record adds up to what the call reported.
    assert sum(t["cost_usd"] for t in turns[1:]) == pytest.approx(body["metadata"]["cost_usd"])
    assert sum(t["usage"]["output"] for t in turns[1:]) == body["metadata"]["tokens"]["output"]
    assert turns[4]["metadata"]["stance"] is None

    h.fakes["custom"].calls.clear()
    await h.ok("chat", prompt="Which view convinced you?", model="alpha", continuation_id=cid)
    text = h.fakes["custom"].calls[0].messages[-1].content
    for piece in ("VIEW-OF-ALPHA", "VIEW-OF-BETA", "VIEW-OF-GAMMA", "MERGED RECOMMENDATION", "stance: for",
                  "stance: against"):
        assert piece in text


async def test_a_thread_without_room_for_every_perspective_is_refused_before_any_call(build):
    h = await build(MAX_CONVERSATION_TURNS="5")
    first = await h.ok("chat", prompt="hello", model="alpha")
    cid = first["continuation_offer"]["continuation_id"]
    h.fakes["custom"].calls.clear()
    body = await h.fail("consensus", step="Ship it?", models=THREE, continuation_id=cid)
    assert body["metadata"]["error_kind"] == "thread_full"
    assert all_calls(h) == []


async def test_the_schema_is_flat_and_small(h):
    async with h.connect() as client:
        listed = await client.list_tools()
    schema = next(t for t in listed.tools if t.name == "consensus").input_schema
    assert schema["required"] == ["step", "models"]
    assert "$defs" not in json.dumps(schema) and "anyOf" not in schema
    assert {"models", "synthesis_model", "relevant_files", "images", "continuation_id"} <= set(schema["properties"])
    assert tools_list_weight({"consensus": ConsensusTool()})["cl100k_tokens"] <= 350


async def test_an_auto_entry_asks_the_model_chat_picks_for_auto(h):
    chosen = (await h.ok("chat", prompt="Which framework?", model="auto")).metadata["model_used"]
    body = await h.ok("consensus", step="Adopt Fastify?", models=[{"model": "auto"}, {"model": "alpha", "stance": "against"}])
    assert (chosen, "neutral") in perspectives(body)
