"""One call to a model, start to finish: per-model preparation, retries, failover; callers see one function.

A caller gives the first route and a `prepare(route)` callback that builds the request for a given model
(its prompt sized to that model's window). `call_model` prepares and calls the first route with retries
(`providers/resilient.py`); when it keeps failing and failover is on, it prepares and calls the alternates
`providers/failover.py` names, each inside its own budget. Whatever the caller prepared for the model
that answered comes back with the result, so accounting always matches the prompt that was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from providers.base import GenerateRequest, GenerateResult
from providers.errors import ProviderError
from providers.failover import Hop, FailoverExhausted, Unsuitable, alternates, call_with_failover
from providers.resilient import Attempts, RetryPolicy, call_with_retries
from utils.config.settings import Settings

if TYPE_CHECKING:
    from providers.registry import Category, ProviderRegistry, Route

P = TypeVar("P")

__all__ = ["Answered", "CallFailed", "Unsuitable", "call_model", "retry_policy"]


def retry_policy(settings: Settings, vendor: str) -> RetryPolicy:
    """Retries and the per-attempt time bound of one vendor's calls, as configured."""
    timeout, name = settings.attempt_timeout(vendor)
    return RetryPolicy(
        max_retries=settings.max_retries, base_delay=settings.retry_base_delay_s, timeout=timeout, timeout_name=name
    )


@dataclass(frozen=True)
class Answered(Generic[P]):
    """The model's result, what was prepared for the model that answered, and how it came to answer."""

    result: GenerateResult
    prepared: P
    route: Route
    attempts: int
    # Models tried before the one that answered (QUORUM_FAILOVER).
    hops: tuple[Hop, ...] = ()


class CallFailed(Exception):
    """No model answered: the last provider error, every model tried, and the number of attempts."""

    def __init__(self, error: ProviderError, hops: tuple[Hop, ...], attempts: int) -> None:
        super().__init__(error.message)
        self.error = error
        self.hops = hops
        self.attempts = attempts


async def call_model(
    first: Route,
    prepare: Callable[[Route], tuple[P, GenerateRequest]],
    *,
    registry: ProviderRegistry,
    settings: Settings,
    fail_over_within: Category | None = None,
    accept: Callable[[Route], bool] = lambda _: True,
    on_try: Callable[[Route], None] = lambda _: None,
) -> Answered[P]:
    """Prepare and call `first`; on lasting failure, prepare and call alternates of `fail_over_within`'s ranking.

    `prepare` raises `Unsuitable` when a model cannot take the request (its prompt does not fit): for the
    first route that propagates, for an alternate it is recorded and the next one is tried. `fail_over_within`
    None means this model was chosen on purpose and reports its own failure. `accept` filters alternates
    (e.g. only models that take images); `on_try` hears each model as it is called (for progress messages).
    """
    attempts = Attempts()

    async def call(target: Route) -> tuple[GenerateResult, P]:
        prepared, request = prepare(target)
        on_try(target)
        policy = retry_policy(settings, target.vendor.name)
        result = await call_with_retries(target.provider, request, target.spec, policy, attempts=attempts)
        return result, prepared

    def candidates() -> list[Route]:
        if fail_over_within is None or not registry.failover.enabled:
            return []
        return alternates(registry.failover, registry, first, fail_over_within, accept=accept)

    try:
        (result, prepared), answered, hops = await call_with_failover(first, call, candidates)
    except FailoverExhausted as exc:
        raise CallFailed(exc.error, exc.hops, attempts.count) from exc.error
    return Answered(result=result, prepared=prepared, route=answered, attempts=attempts.count, hops=hops)
