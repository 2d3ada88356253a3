"""A client's view of Quorum for every suite: the calls tests make (`ToolClient`) and what they get back (`Reply`).

The in-memory harness (tests/conftest.py), Quorum built from an environment (tests/env_quorum.py) and the
server spawned over stdio (simulator_tests/conftest.py) all hand tests a ToolClient.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply(Mapping[str, Any]):
    """The decoded envelope of one tool result and its MCP error flag; reads as the envelope itself."""

    envelope: dict[str, Any]
    is_error: bool

    @classmethod
    def of(cls, result: Any) -> Reply:
        # Every tool answers with exactly one text block holding the JSON envelope.
        assert len(result.content) == 1, f"expected one content block, got {len(result.content)}: {result}"
        return cls(envelope=json.loads(result.content[0].text), is_error=bool(result.is_error))

    def __getitem__(self, key: str) -> Any:
        return self.envelope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.envelope)

    def __len__(self) -> int:
        return len(self.envelope)

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


class ToolClient:
    """A connected MCP client, plus the services behind it when Quorum runs in this process."""

    def __init__(self, client: Any, services: Any = None) -> None:
        self.client = client
        self.services = services

    async def call(self, tool: str, /, progress_callback: Any = None, **arguments: Any) -> Reply:
        return Reply.of(await self.client.call_tool(tool, arguments, progress_callback=progress_callback))

    async def ok(self, tool: str, /, **arguments: Any) -> Reply:
        reply = await self.call(tool, **arguments)
        assert not reply.is_error and reply.status != "error", reply.envelope
        return reply

    async def fail(self, tool: str, kind: str | None = None, /, **arguments: Any) -> Reply:
        """An error result (of `kind`, when given)."""
        reply = await self.call(tool, **arguments)
        assert reply.is_error and reply.status == "error", reply.envelope
        assert kind is None or reply.error_kind == kind, reply.envelope
        return reply

    async def export(self, thread_id: str) -> dict[str, Any]:
        """The stored thread as the threads tool exports it."""
        reply = await self.ok("threads", action="export", continuation_id=thread_id)
        exported: dict[str, Any] = json.loads(reply.content)
        return exported
