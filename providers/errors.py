"""The few project errors that SDK exceptions are translated into at the adapter edge, and their wording."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from utils.privacy.redaction import redact_text


class ProviderError(Exception):
    """A provider call failed; `retryable` says whether trying again may help."""

    retryable = False
    kind = "provider_error"

    def __init__(self, message: str, *, provider: str = "", model: str = "", status: int | None = None) -> None:
        # Providers echo what they were sent (a refused key, a line of the prompt); it goes to the client.
        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status

    def describe(self) -> str:
        where = f"{self.provider} model '{self.model}'" if self.model else self.provider or "provider"
        again = "retryable: try again shortly" if self.retryable else "not retryable: change the request or configuration"
        return f"{where} failed ({self.kind}): {self.message} [{again}]"


class RetryableError(ProviderError):
    """Transient fault: 5xx, connection reset, timeout, malformed reply."""

    retryable = True
    kind = "transient"


class RateLimitedError(RetryableError):
    """429: back off, honouring `retry_after` seconds when the provider gave it."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderTimeoutError(RetryableError):
    """The call exceeded its time bound."""

    kind = "timeout"


class ContextTooLongError(ProviderError):
    """The prompt does not fit the model's context window."""

    kind = "context_too_long"


class AuthError(ProviderError):
    """The key was refused or is missing."""

    kind = "auth"


class BadRequestError(ProviderError):
    """The provider rejected the request as malformed or unsupported."""

    kind = "bad_request"


class ContentBlockedError(ProviderError):
    """The provider refused to answer for safety or content-policy reasons."""

    kind = "content_blocked"


class OutputLimitError(ProviderError):
    """The output limit was used up (often by reasoning) before any answer text: asking again will not help."""

    kind = "output_limit"


class EmptyResponseError(RetryableError):
    """The provider returned no text."""

    kind = "empty_response"


# Wording a provider uses for a prompt over the context window, across the vendors both wires reach.
_TOO_LONG_WORDING = re.compile(
    r"context.length|context.window|maximum context|too many tokens|prompt is too long|input is too long"
    r"|reduce the length|token count.*exceeds|tokens? exceeds?|exceeds? the (?:maximum|model)|string too long",
    re.IGNORECASE)


@dataclass(frozen=True)
class CallErrors:
    """The project errors of one call to one model, worded once for every wire adapter.

    Each message names the provider and the model and says what to do next.
    """

    provider: str
    model: str

    @property
    def _where(self) -> str:
        return f"{self.provider} model '{self.model}'"

    def _blame(self, status: int | None) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "status": status}

    # ---- the call itself -----------------------------------------------------------------------

    def timed_out(self, seconds: float) -> ProviderTimeoutError:
        return ProviderTimeoutError(f"{self._where} did not answer within {seconds:g}s; retry, raise the timeout, "
                                    "or pick a faster model", **self._blame(None))

    def connection_lost(self, cause: BaseException, base_url: str | None) -> RetryableError:
        at = f" at {base_url}" if base_url else ""
        return RetryableError(f"lost the connection to {self.provider}{at} while calling model '{self.model}' "
                              f"({type(cause).__name__}: {cause}); check the server is up and the base URL, then retry",
                              **self._blame(None))

    def malformed(self, what: str) -> RetryableError:
        return RetryableError(f"{self.provider} returned a malformed reply for model '{self.model}' ({what}); retry, "
                              "and check the base URL points at the provider's API", **self._blame(None))

    def unexpected(self, exc: BaseException) -> RetryableError:
        return RetryableError(f"{self._where} failed unexpectedly ({type(exc).__name__}: {exc}); retry, and report "
                              "it if it persists", **self._blame(None))

    def failed(self, detail: str) -> RetryableError:
        """The provider accepted the call but reports that answering failed."""
        return RetryableError(f"{self._where} failed to answer: {detail}; retry shortly", **self._blame(None))

    # ---- the answer ----------------------------------------------------------------------------

    def prompt_blocked(self, reason: str, status: int | None = None) -> ContentBlockedError:
        return ContentBlockedError(f"{self.provider} blocked the prompt for model '{self.model}' ({reason}); rephrase "
                                   "the request or remove the flagged material", **self._blame(status))

    def withheld(self, reason: str) -> ContentBlockedError:
        return ContentBlockedError(f"{self._where} withheld its answer ({reason}); rephrase the request or try "
                                   "another model", **self._blame(None))

    def no_text(self, finish: str | None, *, limited: bool, spent_on: str) -> ProviderError:
        """OutputLimitError when the output cap ran out (on `spent_on`, which counts against it), else a
        retryable EmptyResponseError."""
        hint = (f"the output limit was used up before any text ({spent_on} counts); raise max output tokens or "
                "lower the thinking mode" if limited else "retry the request")
        error = OutputLimitError if limited else EmptyResponseError
        return error(f"{self._where} returned no text (finish reason {finish}); {hint}", **self._blame(None))

    # ---- HTTP error statuses -------------------------------------------------------------------

    def from_status(self, status: int, said: str, *, retry_after: float | None, key_hint: str) -> ProviderError:
        """The error for an HTTP error status, by the rules both wires share; an adapter checks its vendor's own
        error codes first. `said` is the provider's message, `key_hint` where the key is configured."""
        if status == 429:
            return self.rate_limited(status, said, retry_after)
        if status in (401, 403):
            return self.key_refused(status, said, key_hint)
        if status in (408, 504):
            return self.server_timeout(status, said)
        if status >= 500:
            return self.server_error(status, said)
        if status == 413 or _TOO_LONG_WORDING.search(said):
            return self.context_too_long(status, said)
        if status == 404:
            return self.unknown_model(said)
        return self.rejected(status, said)

    def rate_limited(self, status: int, said: str, retry_after: float | None) -> RateLimitedError:
        advice = f"wait {retry_after:g}s" if retry_after is not None else "back off"
        return RateLimitedError(f"{self._where} is rate-limited ({said}); {advice} and retry, or use another model",
                                retry_after=retry_after, **self._blame(status))

    def out_of_quota(self, status: int, said: str) -> AuthError:
        return AuthError(f"{self.provider} says the account is out of quota for model '{self.model}' ({said}); "
                         "check billing or use another provider", **self._blame(status))

    def key_refused(self, status: int, said: str, key_hint: str) -> AuthError:
        return AuthError(f"{self.provider} refused the API key for model '{self.model}' (HTTP {status}: {said}); "
                         f"check {key_hint} and its access to that model", **self._blame(status))

    def server_timeout(self, status: int, said: str) -> ProviderTimeoutError:
        return ProviderTimeoutError(f"{self._where} timed out on the server side (HTTP {status}: {said}); retry",
                                    **self._blame(status))

    def server_error(self, status: int, said: str) -> RetryableError:
        return RetryableError(f"{self.provider} had a server error (HTTP {status}: {said}) serving model "
                              f"'{self.model}'; retry shortly", **self._blame(status))

    def context_too_long(self, status: int, said: str) -> ContextTooLongError:
        return ContextTooLongError(f"the prompt is too long for {self._where} ({said}); send fewer files or less "
                                   "history, or pick a model with a larger context window", **self._blame(status))

    def unknown_model(self, said: str) -> BadRequestError:
        return BadRequestError(f"{self.provider} does not know model '{self.model}' (HTTP 404: {said}); check the "
                               "model name (or deployment) in the catalogue", **self._blame(404))

    def rejected(self, status: int, said: str) -> BadRequestError:
        return BadRequestError(f"{self.provider} rejected the request for model '{self.model}' (HTTP {status}: "
                               f"{said}); check the request parameters against the model's catalogue entry",
                               **self._blame(status))
