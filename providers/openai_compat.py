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
from providers.errors import (
    AuthError, BadRequestError, ContentBlockedError, ContextTooLongError, ProviderError, ProviderTimeoutError,
    RateLimitedError, RetryableError,
)
from providers.shaping import (
    apply_temperature, check_images, data_url, fold_system_prompt, image_turn, no_text_error, output_limit,
    reasoning_effort, retry_after_seconds, shared_tls_context,
)

__all__ = ["AzureSettings", "OpenAICompatibleProvider", "chat_messages", "responses_input", "retry_after_seconds"]

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

# Local servers ignore the key but the SDK insists on one.
_PLACEHOLDER_KEY = "not-needed"
_CONTEXT_WORDING = re.compile(
    r"context.length|context.window|maximum context|too many tokens|prompt is too long|input is too long"
    r"|reduce the length|tokens? exceeds?|exceeds? the (?:maximum|model)|string too long", re.IGNORECASE)


@dataclass(frozen=True)
class AzureSettings:
    """Azure OpenAI: the API version and, per catalogue model name, its deployment name."""

    api_version: str
    deployments: Mapping[str, str] = field(default_factory=dict)


def chat_messages(request: GenerateRequest, spec: ModelSpec) -> list[dict[str, Any]]:
    """Chat-completions messages; images ride on the last user message as data-URL parts."""
    system, turns = fold_system_prompt(request, spec)
    carrier = image_turn(request, turns)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for i, (role, text) in enumerate(turns):
        content: Any = text if i != carrier else [{"type": "text", "text": text}] + [
            {"type": "image_url", "image_url": {"url": data_url(img)}} for img in request.images]
        messages.append({"role": role, "content": content})
    return messages


def responses_input(request: GenerateRequest, spec: ModelSpec) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items) for the responses API; images ride on the last user item."""
    system, turns = fold_system_prompt(request, spec)
    carrier = image_turn(request, turns)
    items: list[dict[str, Any]] = []
    for i, (role, text) in enumerate(turns):
        content: Any = text if i != carrier else [{"type": "input_text", "text": text}] + [
            {"type": "input_image", "image_url": data_url(img)} for img in request.images]
        items.append({"role": role, "content": content})
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
        connect_timeout: float = 10.0, timeout: float = 300.0,
        on_context_error: Callable[[str, ContextTooLongError], ProviderError] | None = None,
    ) -> None:
        self.name = name
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
        params: dict[str, Any] = {"model": self._wire_model(spec), "messages": chat_messages(request, spec)}
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
        instructions, items = responses_input(request, spec)
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

    def _malformed(self, model: str, what: str) -> RetryableError:
        return RetryableError(f"{self.name} returned a malformed reply for model '{model}' ({what}); retry, and "
                              "check the base URL points at an OpenAI-compatible API", provider=self.name, model=model)

    def _blocked(self, model: str) -> ContentBlockedError:
        return ContentBlockedError(f"{self.name} model '{model}' withheld its answer (content filter); rephrase the "
                                   "request or try another model", provider=self.name, model=model)

    def _empty(self, model: str, finish: str | None) -> ProviderError:
        return no_text_error(self.name, model, finish, limited=finish in ("length", "max_output_tokens"),
                             spent_on="reasoning")

    def _parse_chat(self, completion: Any, spec: ModelSpec, notes: tuple[str, ...]) -> GenerateResult:
        model = spec.model_name
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list):
            raise self._malformed(model, "no choices list")
        if not choices:
            raise self._empty(model, None)
        choice = choices[0]
        finish = getattr(choice, "finish_reason", None)
        if finish == "content_filter":
            raise self._blocked(model)
        text = getattr(getattr(choice, "message", None), "content", None) or ""
        if not isinstance(text, str) or not text.strip():
            raise self._empty(model, finish)
        return GenerateResult(text=text, model=model, provider=self.name, usage=chat_usage(completion),
                              finish_reason=finish, notes=notes)

    def _parse_response(self, response: Any, spec: ModelSpec, notes: tuple[str, ...]) -> GenerateResult:
        model = spec.model_name
        if not isinstance(getattr(response, "output", None), list):
            raise self._malformed(model, "no output list")
        status = getattr(response, "status", None)
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        if reason == "content_filter":
            raise self._blocked(model)
        error = getattr(response, "error", None)
        if status == "failed" or error is not None:
            message = getattr(error, "message", None) or "no detail given"
            raise RetryableError(f"{self.name} model '{model}' failed to answer: {message}; retry shortly",
                                 provider=self.name, model=model)
        finish = "stop" if status == "completed" else (reason or status)
        text = response.output_text
        if not text.strip():
            raise self._empty(model, finish)
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

        kw: dict[str, Any] = {"provider": self.name, "model": model}
        where = f"{self.name} model '{model}'"
        if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
            return ProviderTimeoutError(f"{where} did not answer within {self._timeout:g}s; retry, raise the "
                                        "timeout, or pick a faster model", **kw)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return RetryableError(f"lost the connection to {self.name} at {self.base_url} "
                                  f"({type(cause).__name__}: {cause}); check the server is up, then retry", **kw)
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc, model)
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValidationError)):
            return self._malformed(model, type(exc).__name__)
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return self._blocked(model)
        return RetryableError(f"{where} failed unexpectedly ({type(exc).__name__}: {exc}); retry, and report it "
                              "if it persists", **kw)

    def _translate_status(self, exc: openai.APIStatusError, model: str) -> ProviderError:
        status, code, said = exc.status_code, exc.code, _server_message(exc)
        kw: dict[str, Any] = {"provider": self.name, "model": model, "status": status}
        where = f"{self.name} model '{model}'"
        if status == 429 and code == "insufficient_quota":
            return AuthError(f"{self.name} says the account is out of quota ({said}); check billing or use "
                             "another provider", **kw)
        if status == 429:
            wait = retry_after_seconds(exc.response.headers)
            advice = f"wait {wait:g}s" if wait is not None else "back off"
            return RateLimitedError(f"{where} is rate-limited ({said}); {advice} and retry, or use another model",
                                    retry_after=wait, **kw)
        if status in (401, 403):
            return AuthError(f"{self.name} refused the API key (HTTP {status}: {said}); check the key configured "
                             f"for {self.name} and its access to '{model}'", **kw)
        if status == 408:
            return ProviderTimeoutError(f"{where} timed out on the server side ({said}); retry", **kw)
        if status >= 500 or status == 409:
            return RetryableError(f"{self.name} had a server error (HTTP {status}: {said}); retry shortly", **kw)
        if code == "content_filter":
            return ContentBlockedError(f"{self.name} refused the prompt for model '{model}' (content filter: {said}); "
                                       "rephrase the request", **kw)
        if status == 413 or (code == "context_length_exceeded") or _CONTEXT_WORDING.search(said):
            return ContextTooLongError(f"the prompt is too long for {where} ({said}); send fewer files or less "
                                       "history, or pick a model with a larger context window", **kw)
        if status == 404:
            return BadRequestError(f"{self.name} does not know model '{model}' (HTTP 404: {said}); check the model "
                                   "name (or Azure deployment) in the catalogue", **kw)
        return BadRequestError(f"{self.name} rejected the request for model '{model}' (HTTP {status}: {said}); "
                               "check the request parameters against the model's catalogue entry", **kw)
