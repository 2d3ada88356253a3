"""Every bad input gets an error result that says what is wrong, and the session keeps working.

Each check sends one bad call, asserts its `error_kind` and a phrase of its message, and then
sends a good chat on the same session. Bad calls must never reach the provider.
"""

from __future__ import annotations

import uuid
from typing import Any

from simulator_tests.conftest import Lab, user_text
from tests.client import ToolClient


async def rejected_then_recovered(quorum: ToolClient, lab: Lab, tool: str, kind: str, phrase: str, **args: Any) -> str:
    """Send a bad call, check its error, then prove the very next call on the session works."""
    before = len(lab.generations())
    bad = await quorum.fail(tool, kind, **args)
    assert phrase.lower() in bad.content.lower(), bad.content
    assert len(lab.generations()) == before, "a rejected call reached the provider"
    good = await quorum.ok("chat", prompt=f"still there after {kind}?")
    assert f"still there after {kind}?" in good.content
    return bad.content


async def test_unknown_tool_unknown_field_wrong_type_and_unknown_model_are_explained_and_the_next_call_works(
    lab: Lab,
) -> None:
    async with lab.session() as quorum:
        message = await rejected_then_recovered(quorum, lab, "summon", "unknown_tool", "Unknown tool 'summon'")
        assert "chat" in message  # lists what does exist

        message = await rejected_then_recovered(
            quorum, lab, "chat", "invalid_arguments", "'colour' is not a field", prompt="hi", colour="blue"
        )
        message = await rejected_then_recovered(
            quorum, lab, "chat", "invalid_arguments", "'prompt'", prompt=["not", "a", "string"]
        )
        assert "string" in message
        await rejected_then_recovered(
            quorum, lab, "chat", "invalid_arguments", "'temperature'", prompt="hi", temperature="warm"
        )
        await rejected_then_recovered(quorum, lab, "chat", "invalid_arguments", "'prompt' is required")

        message = await rejected_then_recovered(
            quorum, lab, "chat", "unknown_model", "Model 'gpt-nonexistent' is not available",
            prompt="hi", model="gpt-nonexistent",
        )
        assert "gpt-fake" in message  # says what is available


async def test_relative_secret_outside_system_and_missing_paths_are_refused_and_the_next_call_works(
    lab: Lab, tmp_path: Any
) -> None:
    (lab.project / ".env").write_text("OPENAI_API_KEY=sk-do-not-send\n")
    outside = tmp_path / "elsewhere" / "notes.txt"
    outside.parent.mkdir()
    outside.write_text("not in the project\n")
    async with lab.session() as quorum:
        await rejected_then_recovered(
            quorum, lab, "chat", "path_refused", "must be absolute", prompt="hi", absolute_file_paths=["src/app.py"]
        )
        await rejected_then_recovered(
            quorum, lab, "chat", "path_refused", "secrets", prompt="hi", absolute_file_paths=[str(lab.project / ".env")]
        )
        await rejected_then_recovered(
            quorum, lab, "chat", "path_refused", "outside the allowed directories",
            prompt="hi", absolute_file_paths=[str(outside)],
        )
        await rejected_then_recovered(
            quorum, lab, "chat", "path_refused", "system directory", prompt="hi", absolute_file_paths=["/etc/hostname"]
        )
        await rejected_then_recovered(
            quorum, lab, "chat", "file_missing", "No such file",
            prompt="hi", absolute_file_paths=[str(lab.project / "missing.py")],
        )
    assert not any("sk-do-not-send" in user_text(c) for c in lab.generations())


async def test_unknown_continuation_and_full_thread_are_explained_and_the_next_call_works(lab: Lab) -> None:
    async with lab.session(lab.env(MAX_CONVERSATION_TURNS="4")) as quorum:
        await rejected_then_recovered(
            quorum, lab, "chat", "unknown_thread", "without continuation_id",
            prompt="hi", continuation_id=str(uuid.uuid4()),
        )

        opened = await quorum.ok("chat", prompt="turns 1 and 2")
        thread_id = opened.continuation_id
        await quorum.ok("chat", prompt="turns 3 and 4", continuation_id=thread_id)
        message = await rejected_then_recovered(
            quorum, lab, "chat", "thread_full", "MAX_CONVERSATION_TURNS", prompt="turns 5 and 6", continuation_id=thread_id
        )
        assert "4 turns" in message
        # The refused call left the thread as it was.
        assert len((await quorum.export(thread_id))["turns"]) == 4


async def test_an_oversized_prompt_is_refused_with_the_prompt_file_advice_and_a_prompt_txt_file_is_accepted(
    lab: Lab,
) -> None:
    huge = "Please review this long specification. " + "lorem ipsum dolor sit amet " * 2_300
    assert len(huge) > 60_000  # QUORUM_MAX_PROMPT_CHARS default
    async with lab.session() as quorum:
        message = await rejected_then_recovered(quorum, lab, "chat", "prompt_too_large", "prompt.txt", prompt=huge)
        assert "absolute_file_paths" in message

        prompt_file = lab.project / "prompt.txt"
        prompt_file.write_text(huge + "END-OF-SPEC")
        reply = await quorum.ok("chat", prompt="see the attached prompt", absolute_file_paths=[str(prompt_file)])
        assert reply.continuation_id
    sent = user_text(lab.generations()[-1])
    assert "END-OF-SPEC" in sent
    assert sent.count("lorem ipsum dolor sit amet") >= 2_300
