"""Quorum serves concurrent calls concurrently, and concurrent writers never lose a turn."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from simulator_tests.conftest import Lab, user_text


async def test_ten_simultaneous_chat_calls_on_one_session_are_all_in_flight_at_the_provider_at_once(lab: Lab) -> None:
    lab.fake.control.configure(delay=1.0)
    async with lab.session() as quorum:
        replies = await asyncio.gather(*(quorum.ok("chat", prompt=f"PARALLEL-{i}") for i in range(10)))
    calls = await lab.wait_for_generations(10, finished=True)

    assert len(calls) == 10
    # Every call reached the provider before any of them was answered: all ten overlapped.
    first_finish = min(c["finished"] for c in calls)
    assert all(c["arrived"] < first_finish for c in calls), [(c["arrived"], c["finished"]) for c in calls]
    # Each reply belongs to its own request, and each call started its own thread.
    for i, reply in enumerate(replies):
        assert f"PARALLEL-{i}" in reply.content
    assert len({r.continuation_id for r in replies}) == 10


async def test_two_server_processes_sharing_one_home_append_to_one_thread_concurrently_without_losing_turns(
    lab: Lab,
) -> None:
    lab.fake.control.configure(delay=0.2)
    per_server = 5
    async with lab.session() as left, lab.session() as right:
        opened = await left.ok("chat", prompt="SHARED-OPENING")
        thread_id = opened.continuation_id

        async def extend(session, tag: str) -> list[str]:  # type: ignore[no-untyped-def]
            calls = [session.ok("chat", prompt=f"{tag}-{i}", continuation_id=thread_id) for i in range(per_server)]
            return [r.content for r in await asyncio.gather(*calls)]

        answers = await asyncio.gather(extend(left, "LEFT"), extend(right, "RIGHT"))
        # Either process reads back the same, complete thread.
        from_left = await left.export(thread_id)
        from_right = await right.export(thread_id)

    assert from_left["turns"] == from_right["turns"]
    turns = from_left["turns"]
    assert len(turns) == 2 * (1 + 2 * per_server)
    prompts = [t["content"] for t in turns if t["role"] == "user"]
    expected = {"SHARED-OPENING", *(f"{side}-{i}" for side in ("LEFT", "RIGHT") for i in range(per_server))}
    assert Counter(prompts) == Counter(expected)
    recorded_answers = {t["content"] for t in turns if t["role"] == "assistant"}
    assert {a for side in answers for a in side} <= recorded_answers
    # A call's question and its answer are stored side by side, never interleaved with another call's:
    # the fake numbers its replies in arrival order ("reply #N"), so answer N belongs to request N.
    calls = lab.generations()
    assert len(calls) == 1 + 2 * per_server
    for user, assistant in zip(turns[0::2], turns[1::2]):
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        number = int(re.search(r"reply #(\d+)", assistant["content"]).group(1))  # type: ignore[union-attr]
        assert user_text(calls[number - 1]).endswith(user["content"])
