"""Retry policy as small pure functions; the caller owns the loop, the clock and the randomness.

The run engine sets the idempotency key once per logical write, *before* its retry loop, and
re-sends with the same key; these functions only say whether and how long to wait::

    policy = RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await client.send(request, idempotency_key=key)
        except ChargebeeError as exc:
            if not should_retry(policy, attempt, exc):
                raise
            await anyio.sleep(retry_delay(policy, attempt, exc, random.random))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from batchpay.chargebee.errors import (
    ApiError,
    ChargebeeError,
    RateLimitError,
    ServerError,
    TransportError,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "delay_seconds",
    "is_retryable",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
]

MAX_RETRY_AFTER = 120.0  # seconds; a larger Retry-After is treated as this
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one logical call.

    ``max_attempts`` counts the first attempt; ``jitter`` is the largest fraction added to a
    delay (0.25: up to 25 % more).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25


def is_retryable(error: ChargebeeError) -> bool:
    """True for 429 (incl. lock_timeout), 500/502/503/504 and transport errors.

    Business errors (400/401/403/404/409/422), payment declines, malformed 2xx bodies and
    configuration errors are never retried.
    """
    if isinstance(error, TransportError):
        return True
    if isinstance(error, RateLimitError | ServerError):
        return error.status in RETRYABLE_STATUSES
    return False


def should_retry(policy: RetryPolicy, attempt: int, error: ChargebeeError) -> bool:
    """Whether failed attempt ``attempt`` (1-based) may be followed by another."""
    return attempt < policy.max_attempts and is_retryable(error)


def delay_seconds(
    policy: RetryPolicy,
    attempt: int,
    retry_after: float | None,
    rand: Callable[[], float],
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based).

    ``base_delay * 2**(attempt-1)`` capped at ``max_delay``, plus ``rand() * jitter`` of that
    (``rand`` returns a float in [0, 1)). A ``retry_after`` from the server is a floor, itself
    capped at :data:`MAX_RETRY_AFTER`.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    exponent = min(attempt - 1, 62)  # 2**62 * base already exceeds any max_delay
    delay = min(policy.max_delay, policy.base_delay * float(2**exponent))
    delay += delay * policy.jitter * rand()
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def retry_delay(
    policy: RetryPolicy, attempt: int, error: ChargebeeError, rand: Callable[[], float]
) -> float:
    """:func:`delay_seconds` with the error's ``Retry-After`` when it carries one."""
    retry_after = error.retry_after if isinstance(error, ApiError) else None
    return delay_seconds(policy, attempt, retry_after, rand)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from ``now``: delta-seconds or an HTTP date.

    None when absent or unreadable; a date in the past gives 0.0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    return max(0.0, (when - current).total_seconds())
