"""OpenAI wire shapes: chat completions (whole and streamed), responses, model list, errors."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.replies import Outcome, split_text

_ERROR_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("invalid_request_error", "Incorrect API key provided."),
    403: ("permission_error", "You are not allowed to use this model."),
    404: ("invalid_request_error", "The model does not exist or you do not have access to it."),
    408: ("timeout_error", "Request timed out."),
    429: ("requests", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", "The server had an error while processing your request."),
    502: ("server_error", "Bad gateway."),
    503: ("server_error", "The engine is currently overloaded, please try again later."),
}


def _text_of(content: Any) -> str:
    """Text of a message content: a plain string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def request_text(body: Any, kind: str) -> tuple[str, int]:
    """The last user message (for the default reply) and the total input characters."""
    if not isinstance(body, dict):
        return "", 0
    if kind == "openai.responses":
        raw = body.get("input")
        items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
        extra = len(str(body.get("instructions") or ""))
    else:
        items = body.get("messages") or []
        extra = 0
    items = [m for m in items if isinstance(m, dict)]
    users = [_text_of(m.get("content")) for m in items if m.get("role") == "user"]
    total = extra + sum(len(_text_of(m.get("content"))) for m in items)
    return (users[-1] if users else ""), total


def _usage(o: Outcome) -> dict[str, Any]:
    output = o.completion_tokens + o.reasoning_tokens
    return {
        "prompt_tokens": o.prompt_tokens,
        "completion_tokens": output,
        "total_tokens": o.prompt_tokens + output,
        "prompt_tokens_details": {"cached_tokens": o.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": o.reasoning_tokens, "audio_tokens": 0},
    }


def _finish(o: Outcome) -> str:
    return "content_filter" if o.blocked else (o.finish_reason or "stop")


def chat_completion(model: str, o: Outcome, number: int) -> dict[str, Any]:
    """A non-streamed chat completion."""
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": None if o.blocked else o.text, "refusal": None},
            "logprobs": None,
            "finish_reason": _finish(o),
        }],
        "usage": _usage(o),
    }


def chat_chunks(model: str, o: Outcome, number: int, include_usage: bool) -> list[dict[str, Any]]:
    """The chunk objects of a streamed chat completion, without the final [DONE]."""
    base = {"id": f"chatcmpl-fake-{number}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": "fp_fake"}

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    if not o.blocked:
        chunks += [chunk({"content": piece}, None) for piece in split_text(o.text) if piece]
    chunks.append(chunk({}, _finish(o)))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _usage(o)})
    return chunks


def response_object(model: str, o: Outcome, number: int) -> dict[str, Any]:
    """A minimal but complete Responses API object."""
    incomplete = "content_filter" if o.blocked else ("max_output_tokens" if o.finish_reason == "length" else None)
    content = [] if o.blocked else [{"type": "output_text", "text": o.text, "annotations": [], "logprobs": []}]
    return {
        "id": f"resp_fake_{number}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "error": None,
        "model": model,
        "output": [{"id": f"msg_fake_{number}", "type": "message", "role": "assistant",
                    "status": "incomplete" if incomplete else "completed", "content": content}],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "metadata": {},
        "usage": {
            "input_tokens": o.prompt_tokens,
            "input_tokens_details": {"cached_tokens": o.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": o.completion_tokens + o.reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": o.reasoning_tokens},
            "total_tokens": o.prompt_tokens + o.completion_tokens + o.reasoning_tokens,
        },
    }


def error_body(status: int, code: str | None, message: str | None) -> dict[str, Any]:
    """An OpenAI-style error envelope."""
    kind, default_message = _ERROR_DEFAULTS.get(status, ("server_error" if status >= 500 else "invalid_request_error",
                                                         f"HTTP {status}"))
    return {"error": {"message": message or default_message, "type": kind, "param": None, "code": code}}


def prompt_blocked_body() -> dict[str, Any]:
    """How Azure-style content filtering refuses a prompt: HTTP 400 with code content_filter."""
    return error_body(400, "content_filter", "The response was filtered due to the prompt triggering the "
                                             "content management policy.")
