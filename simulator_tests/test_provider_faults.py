"""Provider faults: transient ones are retried, fatal ones explained; threads never hold half an exchange."""

from __future__ import annotations

from typing import Any

from simulator_tests.conftest import Lab

SERVER_ERROR = {"status": 500}


async def test_three_server_errors_then_success_are_retried_into_one_answer_and_one_recorded_exchange(lab: Lab) -> None:
    async with lab.session(lab.env(QUORUM_MAX_RETRIES="3")) as quorum:
        opened = await quorum.ok("chat", prompt="OPENING")
        lab.fake.control.script([SERVER_ERROR, SERVER_ERROR, SERVER_ERROR, {"text": "RECOVERED-ANSWER"}])
        reply = await quorum.ok("chat", prompt="FLAKY", continuation_id=opened.continuation_id)
        assert reply.content == "RECOVERED-ANSWER"
        assert reply.metadata["attempts"] == 4
        thread = await quorum.export(opened.continuation_id)

    outcomes = [c["outcome"] for c in await lab.wait_for_generations(5, finished=True)]
    assert outcomes[1:] == ["status 500", "status 500", "status 500", "ok"]
    assert [(t["role"], t["content"]) for t in thread["turns"][2:]] == [("user", "FLAKY"), ("assistant", "RECOVERED-ANSWER")]
    assert len(thread["turns"]) == 4


async def test_a_rejected_api_key_is_a_clear_provider_error_and_leaves_no_partial_turn(lab: Lab) -> None:
    async with lab.session(lab.env(QUORUM_MAX_RETRIES="3")) as quorum:
        opened = await quorum.ok("chat", prompt="OPENING")
        thread_id = opened.continuation_id
        lab.fake.control.script([{"status": 401}])
        failed = await quorum.fail("chat", "provider_error", prompt="UNAUTHORISED", continuation_id=thread_id)
        assert "custom" in failed.content and "gpt-fake" in failed.content  # which provider, which model
        assert "not retryable" in failed.content
        assert failed.metadata.get("retryable") is False

        # A 401 is not retried.
        assert len(lab.generations()) == 2
        shown = await quorum.ok("threads", action="show", continuation_id=thread_id)
        exported = await quorum.export(thread_id)
        assert "UNAUTHORISED" not in shown.content
        assert [t["content"] for t in exported["turns"]][0] == "OPENING"
        assert len(exported["turns"]) == 2

        # The thread carries on once the provider accepts calls again.
        after = await quorum.ok("chat", prompt="AFTERWARDS", continuation_id=thread_id)
        assert after.continuation_id == thread_id
        assert len((await quorum.export(thread_id))["turns"]) == 4

        # A failed first call creates no thread at all.
        lab.fake.control.script([{"status": 401}])
        await quorum.fail("chat", "provider_error", prompt="NEVER-STORED")
        listing = await quorum.ok("threads", action="list")
        assert listing.metadata["count"] == 1
        assert "NEVER-STORED" not in listing.content


async def test_a_slow_provider_call_sends_progress_notifications_to_a_client_that_asks_for_them(lab: Lab) -> None:
    lab.fake.control.configure(delay=3.0)
    received: list[tuple[float, Any, Any]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        received.append((progress, total, message))

    async with lab.session(lab.env(QUORUM_HEARTBEAT_S="0.5")) as quorum:
        reply = await quorum.call("chat", progress_callback=on_progress, prompt="take your time")
        assert not reply.is_error, reply.envelope
    assert len(received) >= 3, received
    values = [p for p, _, _ in received]
    assert values == sorted(values) and len(set(values)) == len(values)  # progress only moves forward
    assert all(message and "gpt-fake" in message for _, _, message in received)
