"""Send planned calls: concurrently, inside the rate limit, one write per invoice at a time,
retrying with the same idempotency key, journalled before and after every attempt.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from batchpay.chargebee.client import ApiResponse, ChargebeeClient
from batchpay.chargebee.errors import (
    ApiError,
    ChargebeeError,
    IdempotencyConflictError,
    MalformedResponseError,
    RateLimitError,
    TransportError,
)
from batchpay.chargebee.retry import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    delay_seconds,
    parse_retry_after,
    retry_delay,
    should_retry,
)
from batchpay.journal import FAILED, NEEDS_REVIEW, POSTED, Journal
from batchpay.plan import PlannedCall
from batchpay.ratelimit import SlidingWindowLimiter

WINDOW_EXPIRED = "window_expired"  # not sent: its idempotency window closed before the re-send


@dataclass
class CallResult:
    """How one call ended."""

    # journal state: posted, failed, needs_review; "not_sent" when stopped first; WINDOW_EXPIRED
    state: str
    attempts: int = 0
    http_status: int | None = None
    api_error_code: str | None = None
    param: str | None = None
    message: str = ""
    transaction_id: str | None = None
    invoice_status: str | None = None
    result_invoice_id: str | None = None
    replayed: bool = False
    # what the call moved, from Chargebee's answer (the transaction, a closed invoice's total,
    # or the rise in an invoice's amount_paid): the amount of a row that names none
    amount: int | None = None
    currency: str | None = None


@dataclass
class Progress:
    total: int
    done: int = 0
    posted: int = 0
    failed: int = 0
    review: int = 0
    retries: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class LimitedTransport(httpx.AsyncBaseTransport):
    """Every request, read or write, waits for the rate limiter first."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: SlidingWindowLimiter) -> None:
        self._inner = inner
        self._limiter = limiter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._limiter.acquire()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReadRetryTransport(httpx.AsyncBaseTransport):
    """Reads (GET) are safe to repeat: each one is retried on its own on 429, 5xx or a lost
    connection, so one bad page does not restart a dry run's hundred reads. Writes pass through
    untouched: the Executor retries them with their idempotency key and journal.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: RetryPolicy,
        limiter: SlidingWindowLimiter | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._limiter = limiter
        self._rand = rand

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            return await self._inner.handle_async_request(request)
        attempt = 1
        while True:
            retry_after = None
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError:
                if attempt >= self._policy.max_attempts:
                    raise
            else:
                if response.status_code not in RETRYABLE_STATUSES or (
                    attempt >= self._policy.max_attempts
                ):
                    return response
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                await response.aclose()
                if response.status_code == 429 and self._limiter is not None:
                    self._limiter.pause(retry_after or 1.0)
            await asyncio.sleep(delay_seconds(self._policy, attempt, retry_after, self._rand))
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _back_off(
    policy: RetryPolicy,
    attempt: int,
    exc: ChargebeeError,
    limiter: SlidingWindowLimiter | None,
    rand: Callable[[], float],
) -> None:
    delay = retry_delay(policy, attempt, exc, rand)
    if limiter is not None and isinstance(exc, RateLimitError) and not exc.lock_timeout:
        limiter.pause(delay)  # the whole site is over its limit, not just this call
    await asyncio.sleep(delay)


@dataclass
class Executor:
    client: ChargebeeClient
    journal: Journal
    site: str
    job: str
    policy: RetryPolicy
    concurrency: int
    limiter: SlidingWindowLimiter | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    on_progress: Callable[[Progress], None] | None = None
    rand: Callable[[], float] = random.random
    clock: Callable[[], float] = time.time
    # key -> the last moment a call sent by an earlier run may be re-sent with its key
    deadlines: Mapping[str, float] = field(default_factory=dict)
    # invoice id -> its amount_paid as read before the run's calls, kept up to date from each
    # posted answer (one call per invoice at a time, in order)
    paid: dict[str, int] = field(default_factory=dict)

    async def run(self, calls: Sequence[PlannedCall]) -> dict[str, CallResult]:
        progress = Progress(total=len(calls))
        semaphore = asyncio.Semaphore(self.concurrency)
        locks: dict[str, asyncio.Lock] = {}
        results: dict[str, CallResult] = {}

        async def worker(call: PlannedCall) -> None:
            lock = locks.setdefault(call.invoice_id or call.key, asyncio.Lock())
            async with lock, semaphore:
                if self.stop.is_set():
                    results[call.key] = CallResult(state="not_sent", message="run interrupted")
                    return
                result = await self._send(call, progress)
            results[call.key] = result
            self._count(progress, result)

        await asyncio.gather(*(worker(call) for call in calls))
        return results

    def _count(self, progress: Progress, result: CallResult) -> None:
        progress.done += 1
        progress.posted += result.state == POSTED
        progress.failed += result.state == FAILED
        progress.review += result.state == NEEDS_REVIEW
        if self.on_progress is not None:
            self.on_progress(progress)

    async def _send(self, call: PlannedCall, progress: Progress) -> CallResult:
        request_record: dict[str, object] = {
            "method": call.request.method, "path": call.request.path, "form": call.request.form,
            # not sent (the invoice's); shown when the key turns out reused
            "currency": call.currency if call.rows else None,
        }
        attempt = 1
        unknown: ChargebeeError | None = None  # the first attempt whose outcome is unknown
        while True:
            if self._window_closed(call):
                return CallResult(state=WINDOW_EXPIRED, attempts=attempt - 1,
                                  message="idempotency window closed before the re-send")
            self.journal.begin(
                self.site, call.key, job=self.job, action=call.action,
                invoice_id=call.invoice_id, business_key=call.business_key,
                request=request_record,
            )
            try:
                response = await self.client.send(
                    call.request, idempotency_key=call.key, headers=self.headers
                )
            except ChargebeeError as exc:
                if unknown is None and not _surely_not_applied(exc):
                    unknown = exc
                if should_retry(self.policy, attempt, exc) and not self.stop.is_set():
                    progress.retries += 1
                    await _back_off(self.policy, attempt, exc, self.limiter, self.rand)
                    attempt += 1
                    continue
                return self._settle_error(call, exc, attempt, unknown)
            return self._settle_success(call, response, attempt)

    def _window_closed(self, call: PlannedCall) -> bool:
        deadline = self.deadlines.get(call.key)
        return deadline is not None and self.clock() >= deadline

    def _settle_success(
        self, call: PlannedCall, response: ApiResponse, attempts: int
    ) -> CallResult:
        invoice: dict[str, Any] = response.body.get("invoice") or {}
        transaction: dict[str, Any] = response.body.get("transaction") or {}
        moved = transaction if "amount" in transaction else {}
        if call.action == "close_invoice":
            moved = {"amount": invoice.get("total", invoice.get("amount")),
                     "currency_code": invoice.get("currency_code")}
        applied = self._newly_paid(call, invoice, response.replayed)
        if call.action == "apply_payments":
            moved = applied
        result = CallResult(
            state=POSTED,
            attempts=attempts,
            http_status=response.status,
            transaction_id=transaction.get("id"),
            invoice_status=invoice.get("status"),
            result_invoice_id=invoice.get("id"),
            replayed=response.replayed,
            amount=moved.get("amount") if isinstance(moved.get("amount"), int) else None,
            currency=moved.get("currency_code"),
        )
        self.journal.settle(
            self.site, call.key, POSTED, http_status=response.status,
            transaction_id=result.transaction_id, invoice_status=result.invoice_status,
            result_invoice_id=result.result_invoice_id,
        )
        return result

    def _newly_paid(
        self, call: PlannedCall, invoice: dict[str, Any], replayed: bool
    ) -> dict[str, Any]:
        """What the call added to the invoice's amount_paid, less what its rows that name an
        amount account for: what an apply_payments row that names none applied, which the
        answer carries no transaction for. Empty when the answer or the earlier read lacks it,
        or the answer is a replay (the read may already include it)."""
        after = invoice.get("amount_paid")
        if invoice.get("id") != call.invoice_id or type(after) is not int:
            return {}
        before = self.paid.get(str(call.invoice_id))
        self.paid[str(call.invoice_id)] = after
        named = sum(row.amount for row in call.rows if row.amount is not None)
        if before is None or replayed or after - before - named < 0:
            return {}
        return {"amount": after - before - named, "currency_code": invoice.get("currency_code")}

    def _settle_error(
        self, call: PlannedCall, exc: ChargebeeError, attempts: int,
        unknown: ChargebeeError | None,
    ) -> CallResult:
        """Settle the last error; once any attempt's outcome was unknown, a later sure
        refusal (429, 4xx) cannot make it FAILED: the earlier attempt may have been applied."""
        result = _error_result(exc, attempts)
        known = _known_to_need_review(call, exc)
        if known is not None:
            result.state, result.message = NEEDS_REVIEW, known
            self._settle(call, result)  # settled, so that no later run re-sends it
            return result
        if unknown is not None:
            result.state = NEEDS_REVIEW
            result.message = _unknown_message(attempts, unknown, exc)
            return result  # the journal keeps it in flight, which is what it is
        self._settle(call, result)
        return result

    def _settle(self, call: PlannedCall, result: CallResult) -> None:
        self.journal.settle(
            self.site, call.key, result.state, http_status=result.http_status,
            api_error_code=result.api_error_code, message=result.message,
        )


def _error_result(exc: ChargebeeError, attempts: int) -> CallResult:
    result = CallResult(state=FAILED, attempts=attempts, message=str(exc))
    if isinstance(exc, ApiError):
        result.http_status = exc.status
        result.api_error_code = exc.api_error_code
        result.param = exc.param
        result.message = exc.message
    return result


def _unknown_message(attempts: int, unknown: ChargebeeError, last: ChargebeeError) -> str:
    text = f"outcome unknown after {attempts} attempt(s): {_error_text(unknown)}"
    if last is not unknown:
        text += f" (the last attempt got {last})"
    return text + (
        ". Running the job again within 30 minutes re-sends with the same idempotency key "
        "(safe); later, batchpay checks the site before deciding"
    )


def _error_text(exc: ChargebeeError) -> str:
    return exc.message if isinstance(exc, ApiError) else str(exc)


def _known_to_need_review(call: PlannedCall, exc: ChargebeeError) -> str | None:
    """Why an error proves the call may have been applied though its outcome cannot be read."""
    invoice = f"invoice {call.invoice_id}" if call.invoice_id else "the site"
    if isinstance(exc, MalformedResponseError) and 200 <= exc.status < 300:
        return (
            f"Chargebee answered HTTP {exc.status} (a 2xx: the call was applied) but the body "
            f"could not be read ({exc.message}); batchpay will not re-send it: check {invoice} "
            "in Chargebee"
        )
    if isinstance(exc, IdempotencyConflictError):
        return (
            f"Chargebee refused the idempotency key (HTTP {exc.status}: {exc.message}): an "
            "earlier request with this key and other parameters was received, so the row was "
            "edited after an earlier attempt that may have been applied; batchpay will not "
            f"re-send it: check {invoice} in Chargebee"
        )
    return None


def _surely_not_applied(exc: ChargebeeError) -> bool:
    """A 4xx, a 429 or an unsent request changed nothing; a 5xx or a lost response may have."""
    if isinstance(exc, TransportError):
        return not exc.sent
    if isinstance(exc, ApiError):
        return exc.status < 500 or exc.status == 503
    return True
