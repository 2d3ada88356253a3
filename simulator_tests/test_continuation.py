"""One continuation_id carries a conversation across models and across server processes."""

from __future__ import annotations

import asyncio

import pytest
from mcp import MCPError

from simulator_tests.conftest import Lab, kill_server, server_pids, user_text

FILE_MARKER = "def settle_invoice(amount_cents: int) -> int:  # MARKER-7f3a"


async def test_a_chat_continued_with_a_second_model_sees_the_first_exchange_and_the_file_once(lab: Lab) -> None:
    source = lab.project / "billing.py"
    source.write_text(f"{FILE_MARKER}\n    return amount_cents - amount_cents // 10\n")
    async with lab.session(lab.env(**lab.two_models())) as quorum:
        first = await quorum.ok(
            "chat", model="gpt-fake", prompt="FIRST-PROMPT: is the discount right?", absolute_file_paths=[str(source)]
        )
        assert first.metadata["model_used"] == "gpt-fake"
        first_answer = first.content
        second = await quorum.ok(
            "chat",
            model="o-fake",
            prompt="SECOND-PROMPT: critique the answer above.",
            continuation_id=first.continuation_id,
            absolute_file_paths=[str(source)],  # passed again: must still be embedded only once
        )
        assert second.metadata["model_used"] == "o-fake"
        assert second.continuation_id == first.continuation_id

        thread = await quorum.export(first.continuation_id)
    assert [t["role"] for t in thread["turns"]] == ["user", "assistant", "user", "assistant"]
    assert [t["model"] for t in thread["turns"] if t["role"] == "assistant"] == ["gpt-fake", "o-fake"]

    calls = lab.generations()
    assert [c["body"]["model"] for c in calls] == ["gpt-fake", "o-fake"]
    sent = user_text(calls[1])
    assert "FIRST-PROMPT: is the discount right?" in sent
    assert first_answer in sent
    assert "SECOND-PROMPT: critique the answer above." in sent
    assert sent.count(FILE_MARKER) == 1, sent
    # The history is presented oldest first: the first exchange comes before the new prompt.
    assert sent.index("FIRST-PROMPT") < sent.index(first_answer) < sent.index("SECOND-PROMPT")


async def test_after_a_sigkill_a_new_server_process_continues_the_same_thread(lab: Lab) -> None:
    async with lab.session() as quorum:
        first = await quorum.ok("chat", prompt="EXCHANGE-ONE: name a prime.")
        thread_id = first.continuation_id
        second = await quorum.ok("chat", prompt="EXCHANGE-TWO: and another.", continuation_id=thread_id)
        answers = [first.content, second.content]

        # A third call is in flight at the provider when the server dies.
        lab.fake.control.script([{"delay": 30.0}])
        doomed = asyncio.create_task(
            quorum.call("chat", prompt="KILLED-MID-CALL: never answered.", continuation_id=thread_id)
        )
        await lab.wait_for_generations(3)
        pid = await kill_server(lab.home)
        with pytest.raises(MCPError, match="(?i)connection closed"):
            await asyncio.wait_for(doomed, timeout=30)
    assert pid not in server_pids(lab.home)

    async with lab.session() as quorum:
        third = await quorum.ok("chat", prompt="EXCHANGE-THREE: sum them.", continuation_id=thread_id)
        assert third.continuation_id == thread_id
        thread = await quorum.export(thread_id)

    sent = user_text(lab.generations()[-1])
    for text in ("EXCHANGE-ONE: name a prime.", "EXCHANGE-TWO: and another.", *answers):
        assert text in sent
    # The call that died with the server left nothing behind.
    assert "KILLED-MID-CALL" not in sent
    contents = [t["content"] for t in thread["turns"]]
    assert len(contents) == 6
    assert not any("KILLED-MID-CALL" in c for c in contents)
