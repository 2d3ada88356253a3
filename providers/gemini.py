"""Adapter for Google's Gemini API through `google-genai`'s async client (`client.aio`).

The SDK is imported on first use only: importing it costs ~0.7 s of start-up.
`Usage.output_tokens` is everything billed as output: candidates plus thoughts (`reasoning_tokens`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from providers.base import GenerateRequest, GenerateResult, Usage
from providers.catalogue import ModelSpec
from providers.lazy_client import LazyClient
from providers.errors import CallErrors, ProviderError
from providers.shaping import (
    apply_temperature, arrange_system_text, check_images, output_limit, pick_effort,
    retry_after_seconds, shared_tls_context,
)

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

logger = logging.getLogger(__name__)

# Share of the model's maximum thinking budget spent at each thinking mode.
BUDGET_FRACTION: dict[str, float] = {"minimal": 0.005, "low": 0.08, "medium": 0.33, "high": 0.67, "max": 1.0}
_BLOCK_FINISH = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                           "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def thinking_budget(mode: str, spec: ModelSpec) -> int:
    """Tokens of thinking for a mode, as a share of the model's maximum (never below the model's minimum)."""
    return max(1, spec.min_thinking_tokens, round(spec.max_thinking_tokens * BUDGET_FRACTION[mode]))


def _name(value: Any) -> str | None:
    """An SDK enum (or plain string) as its upper-case name."""
    if value is None:
        return None
    return str(getattr(value, "value", value)).upper()


def _retry_delay_from_body(details: Any) -> float | None:
    """Gemini puts the wait in a google.rpc.RetryInfo detail, e.g. {"retryDelay": "17s"}."""
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details") or []:
        match = _SECONDS.match(str(item.get("retryDelay", ""))) if isinstance(item, dict) else None
        if match:
            return float(match.group(1))
    return None


class GeminiProvider(LazyClient):
    """Gemini models served by the Gemini Developer API (or a compatible base URL)."""

    def __init__(
        self, name: str = "gemini", *, api_key: str, base_url: str | None = None, models: Sequence[ModelSpec] = (),
        connect_timeout: float = 10.0, timeout: float = 300.0, api_version: str = "v1beta",
    ) -> None:
        self.name = name
        self.base_url = base_url
        self._api_key = api_key
        self._models = list(models)
        # google-genai takes one timeout per request, so `connect_timeout` is kept for parity with the
        # other adapter but cannot be applied on its own.
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._api_version = api_version
        # Held for the provider's lifetime: a client that is garbage-collected closes its transport.
        self._client: genai.Client | None = None

    def models(self) -> list[ModelSpec]:
        return list(self._models)

    def _get_client(self) -> genai.Client:
        if self._client is None:
            import httpx2
            from google import genai
            from google.genai import types

            options = types.HttpOptions(
                api_version=self._api_version, timeout=int(self._timeout * 1000),
                # Our own transport keeps google-genai on httpx2 even where aiohttp is installed, so
                # failures arrive as the exceptions _translate knows.
                async_client_args={"transport": httpx2.AsyncHTTPTransport(verify=shared_tls_context())},
                client_args={"verify": shared_tls_context()},
            )
            if self.base_url:
                options.base_url = self.base_url
            self._client = genai.Client(api_key=self._api_key, vertexai=False, http_options=options)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            self._client = None

    async def generate(self, request: GenerateRequest, spec: ModelSpec) -> GenerateResult:
        """Call the model once; raise a ProviderError subclass on any failure."""
        check_images(request, spec, self.name)
        await self.warm_up()  # builds the client off the event loop when no caller has yet
        client = self._get_client()
        notes: list[str] = []
        contents, config = self._build(request, spec, notes)
        logger.debug("%s: calling %s", self.name, spec.model_name)
        import httpx2
        from google.genai import errors

        try:
            async with asyncio.timeout(self._timeout):
                response = await client.aio.models.generate_content(
                    model=spec.model_name, contents=contents, config=config)
        # ValueError covers undecodable JSON and pydantic validation of a malformed reply.
        except (errors.APIError, httpx2.HTTPError, TimeoutError, ValueError) as exc:
            raise self._translate(exc, spec.model_name) from exc
        return self._parse(response, spec, tuple(notes))

    # ---- request building --------------------------------------------------------------------

    def _build(self, request: GenerateRequest, spec: ModelSpec,
               notes: list[str]) -> tuple[list[types.Content], types.GenerateContentConfig]:
        from google.genai import types

        # Gemini has one system instruction, ahead of the contents: instructions placed after the material join it.
        system, messages = arrange_system_text(request, spec, late_system=False)
        contents = [types.Content(role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)])
                    for m in messages]
        if request.images:
            last_user = max((i for i, c in enumerate(contents) if c.role == "user"), default=None)
            if last_user is None:
                contents.append(types.Content(role="user", parts=[]))
                last_user = len(contents) - 1
            parts = contents[last_user].parts or []
            parts += [types.Part.from_bytes(data=img.data, mime_type=img.mime_type) for img in request.images]
            contents[last_user].parts = parts

        config = types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=apply_temperature(request, spec, notes),
            max_output_tokens=output_limit(request, spec, notes),
            thinking_config=self._thinking(request, spec, notes),
        )
        return contents, config

    @staticmethod
    def _thinking(request: GenerateRequest, spec: ModelSpec, notes: list[str]) -> types.ThinkingConfig | None:
        from google.genai import types

        mode = request.thinking_mode
        if mode is None:
            return None
        if spec.thinking_style == "budget" and spec.max_thinking_tokens > 0:
            return types.ThinkingConfig(thinking_budget=thinking_budget(mode, spec))
        if spec.thinking_style == "effort":
            level, note = pick_effort(mode, spec)
            if note:
                notes.append(note)
            return types.ThinkingConfig(thinking_level=types.ThinkingLevel(level.upper()))
        notes.append(f"thinking mode '{mode}' not applied: the model has no adjustable thinking")
        return None

    # ---- reply parsing -----------------------------------------------------------------------

    def _parse(self, response: Any, spec: ModelSpec, notes: tuple[str, ...]) -> GenerateResult:
        model = spec.model_name
        feedback = getattr(response, "prompt_feedback", None)
        block = _name(getattr(feedback, "block_reason", None))
        fail = CallErrors(self.name, model)
        if block:
            raise fail.prompt_blocked(block)
        candidates = getattr(response, "candidates", None) or []
        finish = _name(getattr(candidates[0], "finish_reason", None)) if candidates else None
        if finish in _BLOCK_FINISH:
            raise fail.withheld(finish)
        parts = getattr(getattr(candidates[0], "content", None), "parts", None) or [] if candidates else []
        # Thought summaries are not the answer.
        text = "".join(p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))
        if not text.strip():
            raise fail.no_text(finish, limited=finish == "MAX_TOKENS", spent_on="thinking")
        meta = getattr(response, "usage_metadata", None)
        thoughts = getattr(meta, "thoughts_token_count", None) or 0
        usage = Usage(
            input_tokens=getattr(meta, "prompt_token_count", None) or 0,
            # Thinking is billed as output, as OpenAI's completion_tokens already include reasoning.
            output_tokens=(getattr(meta, "candidates_token_count", None) or 0) + thoughts,
            reasoning_tokens=thoughts,
            cached_tokens=getattr(meta, "cached_content_token_count", None) or 0,
        )
        return GenerateResult(text=text, model=model, provider=self.name, usage=usage,
                              finish_reason=finish.lower() if finish else None, notes=notes)

    # ---- error translation -------------------------------------------------------------------

    def _translate(self, exc: Exception, model: str) -> ProviderError:
        """Map an SDK or transport exception to the project error that says what to do next."""
        import httpx2
        from google.genai import errors
        from pydantic import ValidationError

        fail = CallErrors(self.name, model)
        if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
            return fail.timed_out(self._timeout)
        if isinstance(exc, httpx2.TransportError):
            return fail.connection_lost(exc, self.base_url)
        if isinstance(exc, errors.APIError):
            return self._translate_status(exc, fail)
        if isinstance(exc, (errors.UnknownApiResponseError, json.JSONDecodeError, ValidationError)):
            return fail.malformed(type(exc).__name__)
        return fail.unexpected(exc)

    def _translate_status(self, exc: Any, fail: CallErrors) -> ProviderError:
        status = int(exc.code or 0)
        said = str(exc.message or exc.status or "no detail given")[:300]
        key_hint = "GEMINI_API_KEY"
        # Gemini answers a bad key with 400 INVALID_ARGUMENT rather than 401.
        if status == 400 and "api key" in said.lower():
            return fail.key_refused(status, said, key_hint)
        wait = None
        if status == 429:
            headers = getattr(getattr(exc, "response", None), "headers", None)
            wait = retry_after_seconds(dict(headers) if headers else None)
            wait = wait if wait is not None else _retry_delay_from_body(exc.details)
        return fail.from_status(status, said, retry_after=wait, key_hint=key_hint)
