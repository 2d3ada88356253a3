"""What a tool is: a request model, a category, a run function; and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from providers.registry import Category
from tools.fields import StrictModel
from tools.pipeline.context import RequestContext
from tools.pipeline.envelope import SUCCESS, ContentType, ErrorKind
from utils.conversations.turns import Turn

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "systemprompts"


class ToolError(Exception):
    """A failure the caller can act on; `kind` lands in the error envelope."""

    def __init__(self, kind: ErrorKind, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.details = details


@dataclass(frozen=True)
class ToolOutput:
    """A tool's result. Turns listed here are recorded on the thread by the dispatcher, atomically."""

    content: str
    status: str = SUCCESS
    content_type: ContentType = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    turns: tuple[Turn, ...] = ()
    state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    offer_continuation: bool = True


class Tool:
    """Base for tools: class attributes describe it; `run` does the work. Tools hold no request state."""

    name: ClassVar[str]
    description: ClassVar[str]
    # StrictModel declares what the dispatcher reads of a request (thread, model, files, working directory).
    request_model: ClassVar[type[StrictModel]]
    # None: the tool never calls a model, so no model is resolved for it.
    category: ClassVar[Category | None] = None
    # The field checked against the transport prompt-size limit (prompt.txt fallback applies to it).
    prompt_field: ClassVar[str | None] = None
    always_enabled: ClassVar[bool] = False
    # Whether a thread is created/continued for this tool's results.
    conversational: ClassVar[bool] = False

    async def run(self, request: Any, ctx: RequestContext) -> ToolOutput:
        raise NotImplementedError

    @classmethod
    def system_prompt(cls, name: str | None = None) -> str:
        """The tool's system prompt, loaded from systemprompts/<name>.md."""
        return (PROMPTS_DIR / f"{name or cls.name}.md").read_text(encoding="utf-8")
