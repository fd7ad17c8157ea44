"""Retry policy: pure functions, a fixed rand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchpay.chargebee.errors import (
    ApiError,
    AuthenticationError,
    ChargebeeError,
    ConfigError,
    ForbiddenError,
    IdempotencyConflictError,
    InvalidRequestError,
    InvalidStateError,
    MalformedResponseError,
    NotFoundError,
    PaymentError,
    RateLimitError,
    ServerError,
    TransportError,
)
from batchpay.chargebee.retry import (
    MAX_RETRY_AFTER,
    RetryPolicy,
    delay_seconds,
    is_retryable,
    parse_retry_after,
    retry_delay,
    should_retry,
)

POLICY = RetryPolicy()
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def zero() -> float:
    return 0.0


def half() -> float:
    return 0.5


def api(cls: type[ApiError], status: int, code: str | None = None,
        retry_after: float | None = None) -> ApiError:
    return cls("m", status=status, api_error_code=code, retry_after=retry_after)


@pytest.mark.parametrize(("error", "retryable"), [
    (api(RateLimitError, 429, "api_request_limit_exceeded"), True),
    (api(RateLimitError, 429, "lock_timeout"), True),
    (api(ServerError, 500, "internal_error"), True),
    (api(ServerError, 502), True),
    (api(ServerError, 503, "site_read_only_mode"), True),
    (api(ServerError, 504), True),
    (api(ServerError, 501), False),
    (TransportError("read timeout", sent=True), True),
    (TransportError("refused", sent=False), True),
    (api(InvalidRequestError, 400, "param_wrong_value"), False),
    (api(PaymentError, 400, "payment_processing_failed"), False),
    (api(AuthenticationError, 401), False),
    (api(ForbiddenError, 403), False),
    (api(NotFoundError, 404), False),
    (api(InvalidStateError, 409), False),
    (api(IdempotencyConflictError, 422), False),
    (api(MalformedResponseError, 200), False),
    (api(ApiError, 302), False),
    (ConfigError("no key"), False),
], ids=lambda v: type(v).__name__ if isinstance(v, ChargebeeError) else str(v))
def test_is_retryable(error: ChargebeeError, retryable: bool) -> None:
    assert is_retryable(error) is retryable


def test_should_retry_stops_at_max_attempts() -> None:
    error = api(ServerError, 503)
    assert [should_retry(POLICY, n, error) for n in range(1, 8)] == [True] * 5 + [False] * 2
    assert should_retry(POLICY, 1, api(PaymentError, 400)) is False


def test_delay_is_exponential_then_capped() -> None:
    assert [delay_seconds(POLICY, n, None, zero) for n in range(1, 9)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_jitter_adds_a_fraction() -> None:
    assert delay_seconds(POLICY, 1, None, half) == 0.5 + 0.5 * 0.25 * 0.5
    assert delay_seconds(POLICY, 10, None, half) == 30.0 * 1.125
    assert delay_seconds(RetryPolicy(jitter=0.0), 3, None, half) == 2.0


def test_retry_after_is_a_floor() -> None:
    assert delay_seconds(POLICY, 1, 7.0, zero) == 7.0
    assert delay_seconds(POLICY, 6, 7.0, zero) == 16.0  # backoff already longer
    assert delay_seconds(POLICY, 1, 10_000.0, zero) == MAX_RETRY_AFTER
    assert delay_seconds(POLICY, 1, 0.0, zero) == 0.5
    assert delay_seconds(POLICY, 1, float("nan"), zero) == 0.5


def test_huge_attempt_does_not_overflow() -> None:
    assert delay_seconds(POLICY, 10_000, None, zero) == 30.0


def test_attempt_is_one_based() -> None:
    with pytest.raises(ValueError):
        delay_seconds(POLICY, 0, None, zero)


def test_retry_delay_reads_the_error() -> None:
    assert retry_delay(POLICY, 1, api(RateLimitError, 429, retry_after=12.0), zero) == 12.0
    assert retry_delay(POLICY, 2, TransportError("t", sent=True), zero) == 1.0


@given(st.integers(min_value=1, max_value=200),
       st.none() | st.floats(min_value=0, max_value=1e6),
       st.floats(min_value=0, max_value=0.999999))
def test_delay_bounds(attempt: int, retry_after: float | None, r: float) -> None:
    delay = delay_seconds(POLICY, attempt, retry_after, lambda: r)
    upper = max(POLICY.max_delay * (1 + POLICY.jitter), MAX_RETRY_AFTER)
    assert POLICY.base_delay <= delay <= upper
    if retry_after is not None:
        assert delay >= min(retry_after, MAX_RETRY_AFTER)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    ("", None),
    ("  ", None),
    ("5", 5.0),
    (" 120 ", 120.0),
    ("1.5", 1.5),
    ("-3", None),
    ("nan", None),
    ("inf", None),
    ("soon", None),
    ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
    ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_naive_now_is_utc() -> None:
    naive = datetime(2026, 3, 1, 12, 0, 0)
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:00 GMT", now=naive) == 60.0
