"""Failover as a wrapper around provider calls: when a model keeps failing, the next model answers.

`QUORUM_FAILOVER` holds entries separated by `;` or `,`:

- `a>b>c` — a chain: when `a` fails, try `b`, then `c`; when `b` fails, try `c`. Names or aliases;
  a model that is not configured is skipped. `:` may stand for `>` (a colon inside a model name,
  as in `qwen2.5-coder:32b`, is kept when the whole name resolves).
- `category` (`category:N`) — try the next best models for the tool's category, ranked as auto mode
  ranks them, from providers other than the one that failed: at most 2 (N).
- empty, `off` or `none` — no failover (the default).

Chains are tried first, then category alternates. A model is abandoned only after its own retries
(`providers/resilient.py`), and only for faults another model may not have: transient faults, timeouts,
rate limits, empty replies and refused keys. A prompt too long fails over only to a larger context
window. A malformed request or a content-policy block never does: those are about the request, and
routing a refusal to a model that might comply is not Quorum's decision to make.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from providers.catalogue import ModelSpec
from providers.errors import AuthError, ContextTooLongError, ProviderError

if TYPE_CHECKING:
    from providers.registry import Category, ProviderRegistry, Route

logger = logging.getLogger(__name__)

DEFAULT_CATEGORY_ALTERNATES = 2
MAX_CATEGORY_ALTERNATES = 10
_CATEGORY = re.compile(r"^category(?::(\d+))?$", re.IGNORECASE)
_OFF = frozenset({"", "off", "none", "false", "0"})

R = TypeVar("R")


class FailoverSyntaxError(ValueError):
    """QUORUM_FAILOVER could not be read; the message shows the accepted forms."""


@dataclass(frozen=True)
class Chain:
    """One explicit chain, as written; `colon` chains are split into names only when resolved."""

    parts: tuple[str, ...]
    colon: bool = False

    def routes(self, registry: ProviderRegistry) -> list[Route]:
        names = _group(self.parts, lambda n: registry.find(n) is not None) if self.colon else list(self.parts)
        found = [registry.find(name) for name in names]
        for name, route in zip(names, found):
            if route is None:
                logger.debug("failover chain names '%s', which is not configured; skipped", name)
        return [r for r in found if r is not None]


@dataclass(frozen=True)
class FailoverPlan:
    """QUORUM_FAILOVER, parsed: explicit chains and how many category alternates to try."""

    chains: tuple[Chain, ...] = ()
    category_alternates: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.chains or self.category_alternates)


def parse_failover(text: str) -> FailoverPlan:
    """Read QUORUM_FAILOVER; raise FailoverSyntaxError naming the entry that is wrong."""
    if text.strip().lower() in _OFF:
        return FailoverPlan()
    chains: list[Chain] = []
    alternates = 0
    for raw in re.split(r"[;,]", text):
        entry = raw.strip()
        if not entry:
            continue
        if match := _CATEGORY.match(entry):
            alternates = int(match.group(1)) if match.group(1) else DEFAULT_CATEGORY_ALTERNATES
            if not 1 <= alternates <= MAX_CATEGORY_ALTERNATES:
                raise FailoverSyntaxError(f"QUORUM_FAILOVER entry '{entry}': N must be 1-{MAX_CATEGORY_ALTERNATES}")
            continue
        colon = ">" not in entry
        parts = tuple(p.strip() for p in entry.split(":" if colon else ">"))
        if len(parts) < 2 or not all(parts):
            raise FailoverSyntaxError(
                f"QUORUM_FAILOVER entry '{entry}' is neither a chain nor 'category': write models separated by '>' "
                "(e.g. gemini-2.5-pro>gpt-5>grok-4), or 'category' / 'category:N'; separate entries with ';'"
            )
        chains.append(Chain(parts, colon))
    return FailoverPlan(tuple(chains), alternates)


def _group(parts: Sequence[str], known: Callable[[str], bool]) -> list[str]:
    """Rejoin colon-split parts into model names, longest known name first."""
    names: list[str] = []
    i = 0
    while i < len(parts):
        end = next((j for j in range(len(parts), i + 1, -1) if known(":".join(parts[i:j]))), i + 1)
        names.append(":".join(parts[i:end]))
        i = end
    return names


def _key(route: Route) -> tuple[str, str]:
    return route.vendor.name, route.spec.model_name


def alternates(
    plan: FailoverPlan,
    registry: ProviderRegistry,
    failed: Route,
    category: Category,
    accept: Callable[[Route], bool] = lambda _: True,
) -> list[Route]:
    """The models to try after `failed`, in order: its chains' successors, then category alternates."""
    seen = {_key(failed)}
    chosen: list[Route] = []

    def add(route: Route) -> bool:
        if _key(route) in seen or not accept(route):
            return False
        seen.add(_key(route))
        chosen.append(route)
        return True

    for chain in plan.chains:
        routes = chain.routes(registry)
        hit = next((i for i, r in enumerate(routes) if _key(r) == _key(failed)), None)
        for route in routes[hit + 1:] if hit is not None else ():
            add(route)
    budget = plan.category_alternates
    for route in registry.ranked(category) if budget else ():
        if budget and route.vendor.name != failed.vendor.name and add(route):
            budget -= 1
    return chosen


def worth_another_model(error: ProviderError, failed: ModelSpec, candidate: ModelSpec) -> bool:
    """Whether `candidate` may succeed where `failed` ended with `error` (after its retries)."""
    if isinstance(error, ContextTooLongError):
        return candidate.context_window > failed.context_window
    return error.retryable or isinstance(error, AuthError)


@dataclass(frozen=True)
class Hop:
    """A model that was tried and did not answer."""

    model: str
    provider: str
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"model": self.model, "provider": self.provider, "error": f"{self.kind}: {self.message}"}


class Unsuitable(Exception):
    """Raised when preparing a model that cannot take this request (the prompt does not fit it)."""


class FailoverExhausted(Exception):
    """No model answered: `error` is the last provider error, `hops` every model tried."""

    def __init__(self, error: ProviderError, hops: tuple[Hop, ...]) -> None:
        super().__init__(error.message)
        self.error = error
        self.hops = hops


async def call_with_failover(
    first: Route,
    call: Callable[[Route], Awaitable[R]],
    candidates: Callable[[], Sequence[Route]],
) -> tuple[R, Route, tuple[Hop, ...]]:
    """Run `call` on `first`, then on each candidate its error allows; return (result, route that answered, hops).

    `candidates` is consulted once, at the first failure, so the happy path resolves nothing.
    """
    hops: list[Hop] = []
    route, failed = first, first
    error: ProviderError | None = None
    queue: list[Route] | None = None
    while True:
        try:
            return await call(route), route, tuple(hops)
        except Unsuitable as exc:
            if error is None:
                raise
            hops.append(Hop(route.spec.model_name, route.vendor.name, "unsuitable", str(exc)))
        except ProviderError as exc:
            hops.append(Hop(route.spec.model_name, route.vendor.name, exc.kind, exc.message))
            error, failed = exc, route
        if queue is None:
            queue = list(candidates())
        reason, failed_spec = error, failed.spec
        nxt = next((r for r in queue if worth_another_model(reason, failed_spec, r.spec)), None)
        if nxt is None:
            raise FailoverExhausted(error, tuple(hops))
        queue.remove(nxt)
        logger.warning("%s/%s failed (%s); failing over to %s/%s", route.vendor.name, route.spec.model_name,
                       hops[-1].kind, nxt.vendor.name, nxt.spec.model_name)
        route = nxt
