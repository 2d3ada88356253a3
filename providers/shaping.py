"""Request shaping both wire adapters share: images, system prompt, temperature, output cap, thinking.

Each helper applies one catalogue fact to a request and appends a note when it changes what was asked,
so the caller sees in the response metadata what the model really got.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import ssl
import time
from collections.abc import Mapping
from typing import Any

from providers.base import GenerateRequest, ImageInput, Message
from providers.catalogue import Effort, ModelSpec
from providers.errors import BadRequestError
from utils.gate.images import MIB, image_limit_bytes
from utils.vocabulary import ThinkingMode

EFFORT_SCALE: tuple[Effort, ...] = ("none", "minimal", "low", "medium", "high", "xhigh")
# What a model with an effort setting accepts when its catalogue entry does not say.
DEFAULT_EFFORTS: tuple[Effort, ...] = ("minimal", "low", "medium", "high")


def pick_effort(mode: ThinkingMode, spec: ModelSpec) -> tuple[Effort, str | None]:
    """The accepted effort closest to a thinking mode ("max": the highest accepted), and a note if it moved."""
    allowed = spec.reasoning_efforts or DEFAULT_EFFORTS
    if mode == "max":
        return max(allowed, key=EFFORT_SCALE.index), None
    wanted = EFFORT_SCALE.index(mode)
    # Ties go up: a little more thinking is a safer substitute than less.
    best = min(allowed, key=lambda e: (abs(EFFORT_SCALE.index(e) - wanted), -EFFORT_SCALE.index(e)))
    if best == mode:
        return best, None
    return best, f"thinking mode '{mode}' sent as '{best}': the model accepts {', '.join(allowed)}"


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if given."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        raw = lowered.get("retry-after")
        if raw is None:
            return None
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw or "")
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs ~0.05-0.1 s each time."""
    import httpx2

    return httpx2.create_ssl_context()


def data_url(image: ImageInput) -> str:
    return f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def check_images(request: GenerateRequest, spec: ModelSpec, provider: str) -> None:
    """Refuse images the model cannot take, before anything is sent."""
    if not request.images:
        return
    if not spec.supports_images:
        raise BadRequestError(
            f"{provider} model '{spec.model_name}' does not accept images; remove them or choose a model "
            "that supports images", provider=provider, model=spec.model_name)
    limit = image_limit_bytes(spec.max_image_size_mb)
    for image in request.images:
        if len(image.data) > limit:
            raise BadRequestError(
                f"an image of {len(image.data) / MIB:.1f} MB exceeds the {spec.max_image_size_mb:g} MB "
                f"limit of {provider} model '{spec.model_name}'; shrink it or send fewer images",
                provider=provider, model=spec.model_name)


def arrange_system_text(
    request: GenerateRequest, spec: ModelSpec, *, late_system: bool
) -> tuple[str, list[Message]]:
    """(leading system text, messages) as this endpoint and model can take them.

    With a preamble, the request's system prompt goes after the messages as a system message when the
    endpoint accepts one there (`late_system`), so the material before it stays a cacheable prefix; otherwise
    it joins the preamble. A model without a system prompt gets all of it at the head of its first user message.
    """
    messages = list(request.messages)
    if not request.preamble:
        system = request.system_prompt
    elif late_system and spec.supports_system_prompt and messages and request.system_prompt:
        system = request.preamble
        messages.append(Message("system", request.system_prompt))
    else:
        system = f"{request.preamble.rstrip()}\n\n{request.system_prompt}" if request.system_prompt else request.preamble
    if spec.supports_system_prompt or not system:
        return system, messages
    first_user = next((i for i, m in enumerate(messages) if m.role == "user"), None)
    if first_user is None:
        return "", [Message("user", system), *messages]
    head = f"{system}\n\n"
    target = messages[first_user]
    messages[first_user] = Message("user", head + target.content, tuple(len(head) + p for p in target.cache_points))
    return "", messages


def text_parts(message: Message, *, marker: dict[str, str] | None, kind: str = "text") -> list[dict[str, Any]]:
    """The message's text as content parts, cut at its cache points; each part before a cut carries `marker`."""
    cuts = [p for p in message.cache_points if 0 < p < len(message.content)] if marker else []
    parts: list[dict[str, Any]] = []
    start = 0
    for cut in [*cuts, len(message.content)]:
        part: dict[str, Any] = {"type": kind, "text": message.content[start:cut]}
        if marker and cut != len(message.content):
            part["cache_control"] = dict(marker)
        parts.append(part)
        start = cut
    return parts


def image_turn(request: GenerateRequest, messages: list[Message]) -> int | None:
    """Index of the message that carries the request's images: the last user message (an empty one is appended
    to `messages` when there is none); None when the request has no images."""
    if not request.images:
        return None
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        messages.append(Message("user", ""))
        last_user = len(messages) - 1
    return last_user


def apply_temperature(request: GenerateRequest, spec: ModelSpec, notes: list[str]) -> float | None:
    """The temperature the model's rule allows, noting any change from what was asked."""
    temperature, note = spec.temperature.apply(request.temperature)
    if note:
        notes.append(note)
    return temperature


def output_limit(request: GenerateRequest, spec: ModelSpec, notes: list[str]) -> int | None:
    """The requested output cap, held to the model's own maximum."""
    if request.max_output_tokens is None:
        return None
    if request.max_output_tokens > spec.max_output_tokens:
        notes.append(f"max output tokens {request.max_output_tokens} lowered to the model's limit "
                     f"{spec.max_output_tokens}")
        return spec.max_output_tokens
    return request.max_output_tokens


def reasoning_effort(request: GenerateRequest, spec: ModelSpec, notes: list[str]) -> Effort | None:
    """The effort level to send for the request's thinking mode, or None (noted) when the model has none."""
    if request.thinking_mode is None:
        # A catalogue's default effort (PAL's default_reasoning_effort) applies when the call names none.
        return spec.default_effort if spec.thinking_style == "effort" else None
    if spec.thinking_style != "effort":
        notes.append(f"thinking mode '{request.thinking_mode}' not applied: the model has no reasoning effort setting")
        return None
    effort, note = pick_effort(request.thinking_mode, spec)
    if note:
        notes.append(note)
    return effort
