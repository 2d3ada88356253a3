"""Provider errors are worded in one place: every wire gets the same error class and message for the same fault."""

from __future__ import annotations

import pytest

from providers.errors import (
    AuthError, BadRequestError, CallErrors, ContentBlockedError, ContextTooLongError, EmptyResponseError,
    OutputLimitError, ProviderError, ProviderTimeoutError, RateLimitedError, RetryableError,
)

FAIL = CallErrors("acme", "acme-large")


@pytest.mark.parametrize(("status", "said", "error"), [
    (429, "slow down", RateLimitedError),
    (401, "bad key", AuthError),
    (403, "forbidden", AuthError),
    (408, "request timeout", ProviderTimeoutError),
    (504, "gateway timeout", ProviderTimeoutError),
    (500, "oops", RetryableError),
    (503, "overloaded", RetryableError),
    (413, "payload too large", ContextTooLongError),
    (400, "This model's maximum context length is 8192 tokens.", ContextTooLongError),
    (400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
     ContextTooLongError),
    (400, "Please reduce the length of the messages.", ContextTooLongError),
    (404, "no such model", BadRequestError),
    (400, "Unsupported parameter: 'temperature'.", BadRequestError),
    (422, "unprocessable", BadRequestError),
])
def test_an_http_status_maps_to_one_error_class_with_the_status_kept(status: int, said: str,
                                                                     error: type[ProviderError]) -> None:
    got = FAIL.from_status(status, said, retry_after=None, key_hint="ACME_API_KEY")
    assert type(got) is error
    assert (got.provider, got.model, got.status) == ("acme", "acme-large", status)
    assert said in got.message


def test_a_rate_limit_carries_its_wait_and_says_how_long() -> None:
    got = FAIL.from_status(429, "slow down", retry_after=7.0, key_hint="ACME_API_KEY")
    assert isinstance(got, RateLimitedError) and got.retry_after == 7.0 and "wait 7s" in got.message
    unknown = FAIL.from_status(429, "slow down", retry_after=None, key_hint="ACME_API_KEY")
    assert isinstance(unknown, RateLimitedError) and unknown.retry_after is None and "back off" in unknown.message


def test_a_refused_key_names_where_the_key_is_configured() -> None:
    assert "check ACME_API_KEY" in FAIL.from_status(401, "bad key", retry_after=None, key_hint="ACME_API_KEY").message


def test_an_empty_answer_is_an_output_limit_only_when_the_cap_ran_out() -> None:
    limited = FAIL.no_text("length", limited=True, spent_on="reasoning")
    assert type(limited) is OutputLimitError and "(reasoning counts)" in limited.message
    assert not limited.retryable
    empty = FAIL.no_text("stop", limited=False, spent_on="reasoning")
    assert type(empty) is EmptyResponseError and empty.retryable


MESSAGES = {
    "timed_out": FAIL.timed_out(2.5),
    "connection_lost": FAIL.connection_lost(ConnectionResetError("reset by peer"), "http://127.0.0.1:9/v1"),
    "malformed": FAIL.malformed("JSONDecodeError"),
    "unexpected": FAIL.unexpected(KeyError("x")),
    "failed": FAIL.failed("internal failure"),
    "prompt_blocked": FAIL.prompt_blocked("SAFETY"),
    "withheld": FAIL.withheld("content filter"),
    "no_text": FAIL.no_text(None, limited=False, spent_on="thinking"),
    "out_of_quota": FAIL.out_of_quota(429, "quota exceeded"),
    **{f"status {s}": FAIL.from_status(s, "detail", retry_after=None, key_hint="ACME_API_KEY")
       for s in (400, 401, 404, 408, 413, 429, 500)},
}
NEXT_STEP = ("retry", "raise", "check", "rephrase", "send fewer", "use another", "wait", "back off")


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_message_names_the_provider_and_the_model_and_what_to_do_next(name: str) -> None:
    error = MESSAGES[name]
    assert "acme" in error.message and "model 'acme-large'" in error.message
    assert any(step in error.message.split(";", 1)[-1] for step in NEXT_STEP), error.message
    assert (error.provider, error.model) == ("acme", "acme-large")


def test_a_blocked_prompt_and_a_withheld_answer_are_content_blocks_and_never_retried() -> None:
    for error in (MESSAGES["prompt_blocked"], MESSAGES["withheld"]):
        assert isinstance(error, ContentBlockedError) and not error.retryable
