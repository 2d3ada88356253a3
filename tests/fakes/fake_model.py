"""An in-process Provider with a reply queue and a record of calls, for tool and engine tests."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from providers.base import GenerateRequest, GenerateResult, Usage
from providers.catalogue import ModelSpec
from providers.errors import ProviderError


def spec(name: str, provider: str = "custom", **kw: object) -> ModelSpec:
    base: dict[str, object] = {"context_window": 128_000, "max_output_tokens": 8_000, "intelligence_score": 10}
    base.update(kw)
    return ModelSpec(model_name=name, provider=provider, **base)  # type: ignore[arg-type]


@dataclass
class FakeModelProvider:
    """Answers from a queue (text or exception); records every request it receives."""

    name: str
    specs: list[ModelSpec]
    replies: deque[str | ProviderError] = field(default_factory=deque)
    calls: list[GenerateRequest] = field(default_factory=list)
    delay: float = 0.0

    def models(self) -> list[ModelSpec]:
        return list(self.specs)

    def queue(self, *items: str | ProviderError) -> None:
        self.replies.extend(items)

    async def warm_up(self) -> None:
        return None

    async def generate(self, request: GenerateRequest, spec: ModelSpec) -> GenerateResult:
        self.calls.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        item = self.replies.popleft() if self.replies else f"[{spec.model_name}] answer #{len(self.calls)}"
        if isinstance(item, ProviderError):
            raise item
        prompt_chars = sum(len(m.content) for m in request.messages) + len(request.system_prompt)
        return GenerateResult(
            text=item,
            model=spec.model_name,
            provider=self.name,
            usage=Usage(input_tokens=prompt_chars // 4, output_tokens=len(item) // 4),
            finish_reason="stop",
        )

    async def aclose(self) -> None:
        return None
