"""What a tool receives for one request: immutable, explicit, never stored on the tool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from providers.registry import Category, ProviderRegistry, Route
from tools.pipeline.progress import ProgressFn
from utils.access.principals import LOCAL, Principal
from utils.config.settings import Settings
from utils.conversations.storage.base import StoreError, ThreadStore
from utils.conversations.turns import Thread
from utils.gate.file_cache import FileCache
from utils.gate.security import PathPolicy
from utils.prompting.budget import Allocation
from utils.prompting.render_cache import RenderCache

logger = logging.getLogger(__name__)

# Expiry is a query; at shutdown it also deletes what has expired, within this bound.
_EXPIRE_AT_EXIT_S = 5.0

if TYPE_CHECKING:
    from tools.base import Tool


async def no_progress(_: float, __: str) -> None:
    return None


@dataclass(frozen=True)
class Services:
    """Long-lived collaborators, built once at start-up."""

    settings: Settings
    registry: ProviderRegistry
    store: ThreadStore
    tools: Mapping[str, "Tool"]
    server_cwd: Path
    transport: str = "stdio"
    # Content read, rendered and counted once per version, so a continuation turn does not redo it.
    file_cache: FileCache = field(default_factory=FileCache)
    render_cache: RenderCache = field(default_factory=RenderCache)

    async def aclose(self) -> None:
        """At shutdown: sweep expired threads out of the store (bounded, never fatal), then close everything."""
        try:
            async with asyncio.timeout(_EXPIRE_AT_EXIT_S):
                removed = await self.store.expire()
            if removed:
                logger.info("removed %d expired conversation(s)", removed)
        except (TimeoutError, StoreError) as exc:
            logger.warning("expired conversations were not swept at shutdown: %s", exc or "it took too long")
        await self.registry.aclose()
        await self.store.close()


@dataclass(frozen=True)
class RequestContext:
    """Everything one tool call needs, resolved before the tool runs."""

    tool_name: str
    services: Services
    policy: PathPolicy
    # Where overflow files of this call go: under its checked working directory, else under QUORUM_HOME.
    overflow_dir: Path
    # The tool's model category (None: the tool resolves no model up front).
    category: Category | None = None
    route: Route | None = None
    thread: Thread | None = None
    progress: ProgressFn = no_progress
    # Who is calling: decides whose threads this request may see, and owns the threads it starts.
    principal: Principal = LOCAL

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def allocation(self) -> Allocation | None:
        """The token plan for the resolved model (derived, so it can never disagree with the route)."""
        return self.route.spec.allocation() if self.route else None

    @property
    def working_dir(self) -> Path | None:
        """The call's working directory, checked against the roots (None when it named none)."""
        return self.policy.working_dir

    @property
    def continuation_id(self) -> str | None:
        return self.thread.thread_id if self.thread else None
