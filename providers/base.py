"""The provider protocol: what every wire adapter offers, and the data it exchanges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from providers.catalogue import ModelSpec
from utils.vocabulary import ThinkingMode

# "system" is only used inside the adapters, for instructions placed after the material.
Role = Literal["user", "assistant", "system"]


@dataclass(frozen=True)
class Message:
    """One chat message sent to a provider."""

    role: Role
    content: str
    # Offsets in `content` after which the text stays the same for the rest of the thread (end of the file
    # block, end of the history): a provider with explicit prompt-cache markers ends a cached prefix there.
    cache_points: tuple[int, ...] = ()


@dataclass(frozen=True)
class ImageInput:
    """An image ready to send: raw bytes and their MIME type."""

    mime_type: str
    data: bytes


@dataclass(frozen=True)
class GenerateRequest:
    """Everything one provider call needs, already resolved and budgeted.

    Without a `preamble`, `system_prompt` is sent first, as usual. With one, the preamble (the same for every
    tool) is sent first and `system_prompt` (the task's instructions) after the messages, as a system message
    where the endpoint takes one there, joined to the preamble where it does not (shaping.arrange_system_text):
    so the material in the messages stays a prefix that requests from different tools share.
    """

    model: str
    system_prompt: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    thinking_mode: ThinkingMode | None = None
    max_output_tokens: int | None = None
    images: tuple[ImageInput, ...] = ()
    preamble: str = ""


@dataclass(frozen=True)
class Usage:
    """Token usage reported by a provider for one call."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class GenerateResult:
    """A provider's answer."""

    text: str
    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    notes: tuple[str, ...] = ()


@runtime_checkable
class Provider(Protocol):
    """A configured provider: knows its models and can generate with them."""

    name: str

    def models(self) -> list[ModelSpec]:
        """The catalogue entries this provider serves (allow-list already applied)."""
        ...

    async def warm_up(self) -> None:
        """Do one-time set-up (SDK import, client build) before a call's time bound starts; a no-op if none."""
        ...

    async def generate(self, request: GenerateRequest, spec: ModelSpec) -> GenerateResult:
        """Call the model; raise a ProviderError subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release network resources."""
        ...
