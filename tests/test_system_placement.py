"""Where each wire puts the preamble and a tool's instructions, and where cache breakpoints fall (pure shaping)."""

from __future__ import annotations

from typing import Any

import pytest

from providers.base import GenerateRequest, ImageInput, Message
from providers.catalogue import ModelSpec
from providers.openai_compat import CACHE_MARKER, chat_messages, responses_input

MATERIAL = "=== FILES ===\n\nfile\n\n=== END FILES ===\n\n"
HISTORY = "=== CONVERSATION SO FAR ===\n\nturn\n\n=== END CONVERSATION ===\n\n"
ASK = "=== NEW REQUEST ===\n\nwhat now?"


def spec(**overrides: Any) -> ModelSpec:
    return ModelSpec(**{"model_name": "m", "context_window": 100_000, "max_output_tokens": 1_000, **overrides})


def request(**overrides: Any) -> GenerateRequest:
    points = (len(MATERIAL), len(MATERIAL) + len(HISTORY))
    base: dict[str, Any] = {"model": "m", "preamble": "Common preamble.\n", "system_prompt": "Tool instructions.\n",
                            "messages": (Message("user", MATERIAL + HISTORY + ASK, cache_points=points),)}
    return GenerateRequest(**{**base, **overrides})


def test_with_a_preamble_the_instructions_follow_the_material_where_the_endpoint_takes_it() -> None:
    assert chat_messages(request(), spec()) == [
        {"role": "system", "content": "Common preamble.\n"},
        {"role": "user", "content": MATERIAL + HISTORY + ASK},
        {"role": "system", "content": "Tool instructions.\n"},
    ]
    instructions, items = responses_input(request(), spec())
    assert instructions == "Common preamble.\n"
    assert items[-1] == {"role": "developer", "content": "Tool instructions.\n"}


def test_where_the_endpoint_refuses_a_later_system_message_the_instructions_join_the_preamble() -> None:
    assert chat_messages(request(), spec(), late_system=False) == [
        {"role": "system", "content": "Common preamble.\n\nTool instructions.\n"},
        {"role": "user", "content": MATERIAL + HISTORY + ASK},
    ]


def test_without_a_preamble_the_system_prompt_leads_as_before() -> None:
    messages = chat_messages(request(preamble=""), spec())
    assert [m["role"] for m in messages] == ["system", "user"] and messages[0]["content"] == "Tool instructions.\n"


@pytest.mark.parametrize("supports_system_prompt", [True, False])
def test_cache_markers_cut_the_user_text_after_the_files_and_the_history(supports_system_prompt: bool) -> None:
    messages = chat_messages(request(), spec(supports_system_prompt=supports_system_prompt), cache_markers=True)
    user = next(m for m in messages if m["role"] == "user")
    parts = user["content"]
    # The parts join back to exactly the text an unmarked request carries, folded system text included.
    plain = next(m for m in chat_messages(request(), spec(supports_system_prompt=supports_system_prompt))
                 if m["role"] == "user")["content"]
    assert "".join(p["text"] for p in parts) == plain
    assert [p.get("cache_control") for p in parts] == [CACHE_MARKER, CACHE_MARKER, None]
    assert parts[0]["text"].endswith(MATERIAL) and parts[1]["text"] == HISTORY and parts[2]["text"] == ASK


def test_images_ride_after_the_marked_text_parts() -> None:
    png = ImageInput(mime_type="image/png", data=b"\x89PNG")
    messages = chat_messages(request(images=(png,)), spec(supports_images=True), cache_markers=True)
    parts = messages[1]["content"]
    assert [p["type"] for p in parts] == ["text", "text", "text", "image_url"]
    assert messages[-1] == {"role": "system", "content": "Tool instructions.\n"}
