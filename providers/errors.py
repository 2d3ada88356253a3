"""The few project errors that SDK exceptions are translated into at the adapter edge."""

from __future__ import annotations

from utils.redaction import redact_text


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
