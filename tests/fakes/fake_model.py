"""An in-process Provider for tool and engine tests: replies from a queue or a function; every request recorded."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from providers.base import GenerateRequest, GenerateResult, Usage
from providers.catalogue import ModelSpec
from providers.errors import ProviderError

# A reply computed from the request (like pydantic-ai's FunctionModel): the answer text, or raise a
# ProviderError to fail the call; may be async, to hold a call open (gates, hangs).
Respond = Callable[[GenerateRequest, ModelSpec], "str | Awaitable[str]"]


def spec(name: str, provider: str = "custom", **kw: object) -> ModelSpec:
    base: dict[str, object] = {"context_window": 128_000, "max_output_tokens": 8_000, "intelligence_score": 10}
    base.update(kw)
    return ModelSpec(model_name=name, provider=provider, **base)  # type: ignore[arg-type]


@dataclass
class FakeModelProvider:
    """Answers each call with, in order of precedence: the next queued item (text or exception), `respond`
    applied to the request, or a default naming the model and the call number. Records every request."""

    name: str
    specs: list[ModelSpec]
    replies: deque[str | ProviderError] = field(default_factory=deque)
    calls: list[GenerateRequest] = field(default_factory=list)
    delay: float = 0.0
    respond: Respond | None = None

    def models(self) -> list[ModelSpec]:
        return list(self.specs)

    def queue(self, *items: str | ProviderError) -> None:
        """One-off replies consumed in call order: for sequences such as a failure and then a retry."""
        self.replies.extend(items)

    async def warm_up(self) -> None:
        return None

    async def generate(self, request: GenerateRequest, spec: ModelSpec) -> GenerateResult:
        self.calls.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        text = await self._answer(request, spec)
        prompt_chars = sum(len(m.content) for m in request.messages) + len(request.system_prompt)
        return GenerateResult(
            text=text,
            model=spec.model_name,
            provider=self.name,
            usage=Usage(input_tokens=prompt_chars // 4, output_tokens=len(text) // 4),
            finish_reason="stop",
        )

    async def _answer(self, request: GenerateRequest, spec: ModelSpec) -> str:
        if self.replies:
            item = self.replies.popleft()
            if isinstance(item, ProviderError):
                raise item
            return item
        if self.respond is not None:
            reply = self.respond(request, spec)
            return await reply if inspect.isawaitable(reply) else reply
        return f"[{spec.model_name}] answer #{len(self.calls)}"

    async def aclose(self) -> None:
        return None
