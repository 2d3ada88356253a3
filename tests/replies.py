"""What a client got back from a tool call, shared by every suite that drives Quorum through a client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    """The decoded envelope and the MCP error flag."""

    envelope: dict[str, Any]
    is_error: bool

    @classmethod
    def of(cls, result: Any) -> Reply:
        assert result.content, f"tool result has no content: {result}"
        return cls(envelope=json.loads(result.content[0].text), is_error=bool(result.is_error))

    @property
    def status(self) -> str:
        return str(self.envelope.get("status"))

    @property
    def content(self) -> str:
        return str(self.envelope.get("content", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.envelope.get("metadata") or {})

    @property
    def error_kind(self) -> str | None:
        return self.metadata.get("error_kind")

    @property
    def continuation_id(self) -> str | None:
        offer = self.envelope.get("continuation_offer") or {}
        return offer.get("continuation_id")

    @property
    def thread_id(self) -> str:
        """The offered continuation_id; fails the test when none was offered."""
        assert self.continuation_id, f"no continuation offered: {self.envelope}"
        return str(self.continuation_id)
