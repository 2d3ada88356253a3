"""Gemini wire shapes: generateContent (whole and streamed), countTokens, model list, errors."""

from __future__ import annotations

from typing import Any

from tests.fakes.replies import Outcome, estimate_tokens, split_text

_STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_SAFETY_RATINGS = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


def _parts_text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return "".join(str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, dict))


def request_text(body: Any) -> tuple[str, int]:
    """The last user message (for the default reply) and the total input characters."""
    if not isinstance(body, dict):
        return "", 0
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    users = [_parts_text(c) for c in contents if c.get("role", "user") == "user"]
    total = len(_parts_text(body.get("systemInstruction"))) + sum(len(_parts_text(c)) for c in contents)
    return (users[-1] if users else ""), total


def _usage(o: Outcome, *, with_output: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": o.prompt_tokens}
    if with_output:
        usage["candidatesTokenCount"] = o.completion_tokens
        if o.reasoning_tokens:
            usage["thoughtsTokenCount"] = o.reasoning_tokens
    if o.cached_tokens:
        usage["cachedContentTokenCount"] = o.cached_tokens
    usage["totalTokenCount"] = o.prompt_tokens + (o.completion_tokens + o.reasoning_tokens if with_output else 0)
    return usage


def _candidate(text: str, finish: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {"role": "model"}
    if text:
        content["parts"] = [{"text": text}]
    cand: dict[str, Any] = {"content": content, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return cand


def generate_response(model: str, o: Outcome, number: int, prompt_blocked: bool) -> dict[str, Any]:
    """A whole generateContent response, including the two ways Gemini reports a safety block."""
    meta = {"modelVersion": model, "responseId": f"fake-{number}"}
    if prompt_blocked:
        return {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": _SAFETY_RATINGS},
                "usageMetadata": _usage(o, with_output=False), **meta}
    if o.blocked:
        cand = {"finishReason": "SAFETY", "index": 0, "safetyRatings": _SAFETY_RATINGS}
        return {"candidates": [cand], "usageMetadata": _usage(o, with_output=False), **meta}
    return {"candidates": [_candidate(o.text, o.finish_reason or "STOP")], "usageMetadata": _usage(o), **meta}


def stream_chunks(model: str, o: Outcome, number: int, prompt_blocked: bool) -> list[dict[str, Any]]:
    """The SSE payloads of streamGenerateContent; the last one carries finishReason and usage."""
    if prompt_blocked or o.blocked:
        return [generate_response(model, o, number, prompt_blocked)]
    meta: dict[str, Any] = {"modelVersion": model, "responseId": f"fake-{number}"}
    pieces = split_text(o.text)
    chunks: list[dict[str, Any]] = [{"candidates": [_candidate(p, None)], **meta} for p in pieces[:-1]]
    chunks.append({"candidates": [_candidate(pieces[-1], o.finish_reason or "STOP")], "usageMetadata": _usage(o),
                   **meta})
    return chunks


def count_tokens(body: Any) -> dict[str, Any]:
    inner = body.get("generateContentRequest", body) if isinstance(body, dict) else body
    return {"totalTokens": estimate_tokens(request_text(inner)[1])}


def error_body(status: int, message: str | None) -> dict[str, Any]:
    """A Google API error envelope."""
    name = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message or f"fake {name.lower()}", "status": name}}


def models_list(models: tuple[str, ...]) -> dict[str, Any]:
    return {"models": [{
        "name": f"models/{m}", "version": "001", "displayName": m, "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536, "supportedGenerationMethods": ["generateContent", "countTokens"],
    } for m in models]}
