"""Quorum serves concurrent calls concurrently, and concurrent writers never lose a turn."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from simulator_tests.conftest import Lab, user_text
from tests.client import ToolClient


async def test_ten_simultaneous_chat_calls_on_one_session_are_all_in_flight_at_the_provider_at_once(lab: Lab) -> None:
    # The delay only widens the window in which the calls can overlap; nothing here measures time.
    lab.fake.control.configure(delay=2.0)
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
    per_server = 5
    async with lab.session() as left, lab.session() as right:
        # One exchange through each process first: the thread is visible to both, and both are warmed up.
        thread_id = (await left.ok("chat", prompt="OPENED-BY-LEFT")).continuation_id
        await right.ok("chat", prompt="CONTINUED-BY-RIGHT", continuation_id=thread_id)
        lab.fake.control.configure(delay=1.0)

        async def extend(session: ToolClient, tag: str) -> list[str]:
            calls = [session.ok("chat", prompt=f"{tag}-{i}", continuation_id=thread_id) for i in range(per_server)]
            return [r.content for r in await asyncio.gather(*calls)]

        answers = await asyncio.gather(extend(left, "LEFT"), extend(right, "RIGHT"))
        # Either process reads back the same, complete thread.
        from_left = await left.export(thread_id)
        from_right = await right.export(thread_id)

    calls = await lab.wait_for_generations(2 + 2 * per_server, finished=True)
    assert len(calls) == 2 + 2 * per_server
    # The ten concurrent continuations were all at the provider together, so their appends raced.
    racing = calls[2:]
    first_finish = min(c["finished"] for c in racing)
    assert all(c["arrived"] < first_finish for c in racing)

    assert from_left["turns"] == from_right["turns"]
    turns = from_left["turns"]
    assert len(turns) == 2 * len(calls)
    prompts = [t["content"] for t in turns if t["role"] == "user"]
    expected = ["OPENED-BY-LEFT", "CONTINUED-BY-RIGHT", *(f"{side}-{i}" for side in ("LEFT", "RIGHT") for i in range(per_server))]
    assert prompts[:2] == expected[:2]
    assert Counter(prompts) == Counter(expected)
    recorded_answers = {t["content"] for t in turns if t["role"] == "assistant"}
    assert {a for side in answers for a in side} <= recorded_answers
    # Each question is stored right before its own answer, never interleaved with another call's:
    # the fake numbers its replies in arrival order ("reply #N"), so answer N belongs to request N.
    for user, assistant in zip(turns[0::2], turns[1::2]):
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        number = int(re.search(r"reply #(\d+)", assistant["content"]).group(1))  # type: ignore[union-attr]
        assert user_text(calls[number - 1]).endswith(user["content"])
