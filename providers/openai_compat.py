"""Adapter for every server that speaks OpenAI's API: chat completions, or the responses API.

The `openai` SDK is imported on first use only: importing it costs ~0.7 s of start-up.
`Usage.output_tokens` is everything billed as output, reasoning included (`reasoning_tokens`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from providers.base import GenerateRequest, GenerateResult, Usage
from providers.catalogue import ModelSpec
from providers.lazy_client import LazyClient
from providers.errors import CallErrors, ContextTooLongError, ProviderError
from providers.shaping import (
    apply_temperature, arrange_system_text, check_images, data_url, image_turn, output_limit,
    reasoning_effort, retry_after_seconds, shared_tls_context, text_parts,
)

__all__ = ["AzureSettings", "OpenAICompatibleProvider", "chat_messages", "responses_input", "retry_after_seconds"]

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

# Local servers ignore the key but the SDK insists on one.
_PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True)
class AzureSettings:
    """Azure OpenAI: the API version and, per catalogue model name, its deployment name."""

    api_version: str
    deployments: Mapping[str, str] = field(default_factory=dict)


# Anthropic's explicit prompt cache (through OpenRouter): a breakpoint ends a cached prefix at a content part.
CACHE_MARKER = {"type": "ephemeral"}


def chat_messages(
    request: GenerateRequest, spec: ModelSpec, *, late_system: bool = True, cache_markers: bool = False
) -> list[dict[str, Any]]:
    """Chat-completions messages; images ride on the last user message as data-URL parts.

    With `cache_markers`, a user message with cache points is sent as text parts, each part that ends a stable
    prefix marked with `cache_control`.
    """
    system, messages = arrange_system_text(request, spec, late_system=late_system)
    carrier = image_turn(request, messages)
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for i, message in enumerate(messages):
        marked = cache_markers and message.role == "user" and bool(message.cache_points)
        content: Any = message.content
        if marked or i == carrier:
            content = text_parts(message, marker=CACHE_MARKER if marked else None)
        if i == carrier:
            content += [{"type": "image_url", "image_url": {"url": data_url(img)}} for img in request.images]
        out.append({"role": message.role, "content": content})
    return out


def responses_input(
    request: GenerateRequest, spec: ModelSpec, *, late_system: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items) for the responses API; images ride on the last user item.

    Instructions placed after the material go as a developer item, the responses API's role for them.
    """
    system, messages = arrange_system_text(request, spec, late_system=late_system)
    carrier = image_turn(request, messages)
    items: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        content: Any = message.content if i != carrier else [{"type": "input_text", "text": message.content}] + [
            {"type": "input_image", "image_url": data_url(img)} for img in request.images]
        items.append({"role": "developer" if message.role == "system" else message.role, "content": content})
    return system, items


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]


def chat_usage(completion: Any) -> Usage:
    """Token usage of a chat completion, normalised across the vendors that speak this API."""
    raw = getattr(completion, "usage", None)
    prompt = getattr(raw, "prompt_tokens", 0) or 0
    completion_tokens = getattr(raw, "completion_tokens", 0) or 0
    reasoning = getattr(getattr(raw, "completion_tokens_details", None), "reasoning_tokens", 0) or 0
    # OpenAI counts reasoning inside completion_tokens; xAI reports it beside them, which shows in the total.
    if reasoning and (getattr(raw, "total_tokens", 0) or 0) >= prompt + completion_tokens + reasoning:
        completion_tokens += reasoning
    cached = getattr(getattr(raw, "prompt_tokens_details", None), "cached_tokens", 0) or 0
    # DeepSeek names its prompt-cache hits differently.
    cached = cached or getattr(raw, "prompt_cache_hit_tokens", 0) or 0
    return Usage(input_tokens=prompt, output_tokens=completion_tokens, reasoning_tokens=reasoning,
                 cached_tokens=cached)


class OpenAICompatibleProvider(LazyClient):
    """A configured OpenAI-compatible endpoint (OpenAI, xAI, OpenRouter, Azure, DIAL, local servers)."""

    def __init__(
        self, name: str, *, base_url: str, api_key: str = "", models: Sequence[ModelSpec] = (),
        default_headers: Mapping[str, str] | None = None, azure: AzureSettings | None = None,
        connect_timeout: float = 10.0, timeout: float = 300.0, late_system: bool = True,
        cache_marker_prefixes: Sequence[str] = (),
        on_context_error: Callable[[str, ContextTooLongError], ProviderError] | None = None,
    ) -> None:
        self.name = name
        # Whether the endpoint takes a system message after the first message (local chat templates often refuse one).
        self._late_system = late_system
        # Model-name prefixes whose prompt cache needs explicit breakpoints (Anthropic models through OpenRouter).
        self._marker_prefixes = tuple(p.lower() for p in cache_marker_prefixes)
        # Lets the registry learn a local server's real window from its "maximum context length" answer.
        self._on_context_error = on_context_error
        self.base_url = base_url
        self._api_key = api_key
        self._models = list(models)
        self._headers = dict(default_headers or {})
        self._azure = azure
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._client: openai.AsyncOpenAI | None = None

    def models(self) -> list[ModelSpec]:
        return list(self._models)

    def _get_client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai

            common: dict[str, Any] = {
                "api_key": self._api_key or _PLACEHOLDER_KEY,
                "timeout": openai.Timeout(self._timeout, connect=self._connect_timeout),
                "max_retries": 0,  # our own wrapper retries, with backoff and failover
                "default_headers": self._headers or None,
                "http_client": openai.DefaultAsyncHttpxClient(verify=shared_tls_context()),
            }
            if self._azure is not None:
                self._client = openai.AsyncAzureOpenAI(
                    azure_endpoint=self.base_url, api_version=self._azure.api_version, **common)
            else:
                self._client = openai.AsyncOpenAI(base_url=self.base_url, **common)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def generate(self, request: GenerateRequest, spec: ModelSpec) -> GenerateResult:
        """Call the model once; raise a ProviderError subclass on any failure."""
        check_images(request, spec, self.name)
        notes: list[str] = []
        params = self._responses_params(request, spec, notes) if spec.use_responses_api \
            else self._chat_params(request, spec, notes)
        await self.warm_up()  # builds the client off the event loop when no caller has yet
        client = self._get_client()
        import openai  # already loaded by _get_client

        logger.debug("%s: calling %s (%s)", self.name, spec.model_name,
                     "responses" if spec.use_responses_api else "chat")
        try:
            async with asyncio.timeout(self._timeout):
                if spec.use_responses_api:
                    reply: Any = await client.responses.create(**params)
                else:
                    reply = await client.chat.completions.create(**params)
        # ValueError covers undecodable JSON and pydantic validation of a malformed reply.
        except (openai.OpenAIError, TimeoutError, ValueError) as exc:
            error = self._translate(exc, spec.model_name)
            if isinstance(error, ContextTooLongError) and self._on_context_error is not None:
                error = self._on_context_error(spec.model_name, error)
            raise error from exc
        parse = self._parse_response if spec.use_responses_api else self._parse_chat
        return parse(reply, spec, tuple(notes))

    # ---- request building --------------------------------------------------------------------

    def _wire_model(self, spec: ModelSpec) -> str:
        """The name the server knows: on Azure the deployment (settings first, then the catalogue entry)."""
        if self._azure is None:
            return spec.model_name
        return self._azure.deployments.get(spec.model_name) or spec.deployment or spec.model_name

    def _chat_params(self, request: GenerateRequest, spec: ModelSpec, notes: list[str]) -> dict[str, Any]:
        markers = spec.model_name.lower().startswith(self._marker_prefixes) if self._marker_prefixes else False
        messages = chat_messages(request, spec, late_system=self._late_system, cache_markers=markers)
        params: dict[str, Any] = {"model": self._wire_model(spec), "messages": messages}
        temperature = apply_temperature(request, spec, notes)
        if temperature is not None:
            params["temperature"] = temperature
        limit = output_limit(request, spec, notes)
        if limit is not None:
            # Reasoning models refuse max_tokens; they take max_completion_tokens (reasoning included).
            params["max_completion_tokens" if spec.thinking_style == "effort" else "max_tokens"] = limit
        effort = reasoning_effort(request, spec, notes)
        if effort is not None:
            params["reasoning_effort"] = effort
        return params

    def _responses_params(self, request: GenerateRequest, spec: ModelSpec, notes: list[str]) -> dict[str, Any]:
        instructions, items = responses_input(request, spec, late_system=self._late_system)
        params: dict[str, Any] = {"model": self._wire_model(spec), "input": items}
        if instructions:
            params["instructions"] = instructions
        temperature = apply_temperature(request, spec, notes)
        if temperature is not None:
            params["temperature"] = temperature
        limit = output_limit(request, spec, notes)
        if limit is not None:
            params["max_output_tokens"] = limit
        effort = reasoning_effort(request, spec, notes)
        if effort is not None:
            params["reasoning"] = {"effort": effort}
        return params

    # ---- reply parsing -----------------------------------------------------------------------

    @staticmethod
    def _empty(fail: CallErrors, finish: str | None) -> ProviderError:
        return fail.no_text(finish, limited=finish in ("length", "max_output_tokens"), spent_on="reasoning")

    def _parse_chat(self, completion: Any, spec: ModelSpec, notes: tuple[str, ...]) -> GenerateResult:
        model = spec.model_name
        fail = CallErrors(self.name, model)
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list):
            raise fail.malformed("no choices list")
        if not choices:
            raise self._empty(fail, None)
        choice = choices[0]
        finish = getattr(choice, "finish_reason", None)
        if finish == "content_filter":
            raise fail.withheld("content filter")
        text = getattr(getattr(choice, "message", None), "content", None) or ""
        if not isinstance(text, str) or not text.strip():
            raise self._empty(fail, finish)
        return GenerateResult(text=text, model=model, provider=self.name, usage=chat_usage(completion),
                              finish_reason=finish, notes=notes)

    def _parse_response(self, response: Any, spec: ModelSpec, notes: tuple[str, ...]) -> GenerateResult:
        model = spec.model_name
        fail = CallErrors(self.name, model)
        if not isinstance(getattr(response, "output", None), list):
            raise fail.malformed("no output list")
        status = getattr(response, "status", None)
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        if reason == "content_filter":
            raise fail.withheld("content filter")
        error = getattr(response, "error", None)
        if status == "failed" or error is not None:
            raise fail.failed(getattr(error, "message", None) or "no detail given")
        finish = "stop" if status == "completed" else (reason or status)
        text = response.output_text
        if not text.strip():
            raise self._empty(fail, finish)
        raw = getattr(response, "usage", None)
        usage = Usage(
            input_tokens=getattr(raw, "input_tokens", 0) or 0,
            output_tokens=getattr(raw, "output_tokens", 0) or 0,
            reasoning_tokens=getattr(getattr(raw, "output_tokens_details", None), "reasoning_tokens", 0) or 0,
            cached_tokens=getattr(getattr(raw, "input_tokens_details", None), "cached_tokens", 0) or 0,
        )
        return GenerateResult(text=text, model=model, provider=self.name, usage=usage, finish_reason=finish,
                              notes=notes)

    # ---- error translation -------------------------------------------------------------------

    def _translate(self, exc: Exception, model: str) -> ProviderError:
        """Map an SDK or transport exception to the project error that says what to do next."""
        import openai
        from pydantic import ValidationError

        fail = CallErrors(self.name, model)
        if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
            return fail.timed_out(self._timeout)
        if isinstance(exc, openai.APIConnectionError):
            return fail.connection_lost(exc.__cause__ or exc, self.base_url)
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc, fail)
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValidationError)):
            return fail.malformed(type(exc).__name__)
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return fail.withheld("content filter")
        return fail.unexpected(exc)

    def _translate_status(self, exc: openai.APIStatusError, fail: CallErrors) -> ProviderError:
        status, code, said = exc.status_code, exc.code, _server_message(exc)
        # OpenAI's own error codes say more than the status does.
        if status == 429 and code == "insufficient_quota":
            return fail.out_of_quota(status, said)
        if status == 409:  # a conflict with a concurrent request: transient
            return fail.server_error(status, said)
        if code == "content_filter":
            return fail.prompt_blocked(f"content filter: {said}", status)
        if code == "context_length_exceeded":
            return fail.context_too_long(status, said)
        wait = retry_after_seconds(exc.response.headers) if status == 429 else None
        return fail.from_status(status, said, retry_after=wait, key_hint=f"the key configured for {self.name}")
