"""Resilience as a wrapper: an overall time bound and jittered exponential retries around a provider."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from providers.base import GenerateRequest, GenerateResult, Provider
from providers.catalogue import ModelSpec
from providers.errors import ProviderError, ProviderTimeoutError, RateLimitedError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry retryable faults."""

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    timeout: float = 600.0
    timeout_name: str = "QUORUM_PROVIDER_TIMEOUT_S"  # the setting a caller changes to allow more

    def delay(self, attempt: int, error: ProviderError, rand: Callable[[], float] = random.random) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_delay)
        exp = self.base_delay * (2**attempt)
        # Full jitter keeps concurrent retries from stampeding the provider in lockstep.
        return min(self.max_delay, exp * (0.5 + rand() / 2))


@dataclass
class Attempts:
    """What happened across the tries of one call, for the response metadata."""

    count: int = 0
    errors: list[str] = field(default_factory=list)


async def call_with_retries(
    provider: Provider,
    request: GenerateRequest,
    spec: ModelSpec,
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    attempts: Attempts | None = None,
) -> GenerateResult:
    """Call the provider, retrying retryable faults; each try is bounded by the policy's timeout."""
    record = attempts if attempts is not None else Attempts()
    # The first call of a process imports the SDK (~0.7 s): not part of any attempt's time bound.
    await provider.warm_up()
    for attempt in range(policy.max_retries + 1):
        record.count += 1
        try:
            async with asyncio.timeout(policy.timeout):
                return await provider.generate(request, spec)
        except TimeoutError:
            error: ProviderError = ProviderTimeoutError(
                f"no answer within {policy.timeout:.0f}s ({policy.timeout_name})",
                provider=provider.name,
                model=spec.model_name,
            )
        except ProviderError as exc:
            error = exc
        record.errors.append(f"{error.kind}: {error.message}")
        if not error.retryable or attempt >= policy.max_retries:
            raise error
        wait = policy.delay(attempt, error)
        logger.warning(
            "%s/%s attempt %d failed (%s); retrying in %.1fs",
            provider.name,
            spec.model_name,
            attempt + 1,
            error.kind,
            wait,
        )
        await sleep(wait)
    raise AssertionError("unreachable")
