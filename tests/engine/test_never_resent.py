"""Calls that may have been applied but whose outcome cannot be read end as needs review and are
never re-sent, by this run or a later one (also after Chargebee's 30-minute idempotency window).

Each test drives the real client against the in-process sandbox; a wrapping transport changes
what batchpay sees of chosen POSTs (the sandbox still applies them), and one clock moves time
for batchpay and the sandbox together.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from bp_testkit import (
    FAST_POLICY,
    Deposit,
    Inner,
    ManualClock,
    OnPost,
    PostHook,
    applied,
    run_options,
    with_transport,
    write_csv,
    write_job,
)

from batchpay.chargebee.retry import RetryPolicy
from batchpay.journal import Journal
from batchpay.records import Outcome, RowOutcome, RunResult
from batchpay.run import IDEMPOTENCY_WINDOW, PlanSummary, run_job
from batchpay.sandbox import SandboxStore
from batchpay.target import Target, sandbox_target


async def html_200_first(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    if n > 1:
        return await inner.handle_async_request(request)
    await applied(request, inner)
    return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>OK</html>")


async def dropped(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    await applied(request, inner)
    raise httpx.RemoteProtocolError("Server disconnected", request=request)


async def timeout_then_429(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    if n == 1:
        await applied(request, inner)
        raise httpx.ReadTimeout("read timed out", request=request)
    return httpx.Response(429, json={"message": "limit", "type": "operation_failed",
                                     "api_error_code": "api_request_limit_exceeded"})


ONE_ATTEMPT = RetryPolicy(max_attempts=1)


class World:
    """Invoices INV-1.. (one payment row each, references R1..), a job, a journal and a clock
    shared by every run of a test."""

    def __init__(self, tmp: Path, *, with_reference: bool, invoices: int = 1) -> None:
        self.tmp = tmp
        self.invoices = [f"INV-{i}" for i in range(1, invoices + 1)]
        self.clock = ManualClock()
        self.store = SandboxStore(tmp / "sandbox.sqlite")
        self.store.load_seed({
            "customers": [{"id": "c1", "currency": "USD", "payment_sources": []}],
            "invoices": [{"id": i, "customer": "c1", "status": "payment_due", "total": 10000}
                         for i in self.invoices],
        })
        self.job = write_job(tmp / "job.yaml", with_reference=with_reference)
        self.data = self.file("d.csv", date="2026-11-03")

    def file(self, name: str, *, date: str) -> Path:
        return write_csv(self.tmp / name, [
            Deposit(invoice, "40.00", f"R{n}", date=date)
            for n, invoice in enumerate(self.invoices, start=1)
        ])

    def target(self, hook: PostHook | None = None) -> Target:
        target = sandbox_target(self.store, clock=self.clock)
        if hook is not None:
            with_transport(target, lambda inner: OnPost(inner, hook))
        return target

    def run(self, hook: PostHook | None = None, data: Path | None = None,
            **kw: object) -> RunResult:
        options = run_options("execute", self.tmp, target=self.target(hook), clock=self.clock,
                              **kw)
        return run_job(self.job, data or self.data, options)

    def journal_states(self) -> list[str]:
        journal = Journal(self.tmp / "journal.sqlite")
        try:
            return [str(row[7]) for row in journal.entries()]
        finally:
            journal.close()

    def payments(self) -> int:
        return len(self.store.ledger())

    def payments_on(self, invoice: str) -> int:
        return sum(1 for e in self.store.ledger() if e["invoice_id"] == invoice)


def only(result: RunResult) -> RowOutcome:
    (row,) = result.outcomes
    return row


@pytest.mark.parametrize("with_reference", [True, False])
def test_unreadable_2xx_is_needs_review_and_never_resent(
    tmp_path: Path, with_reference: bool
) -> None:
    world = World(tmp_path, with_reference=with_reference)
    first = only(world.run(html_200_first))
    assert first.outcome is Outcome.NEEDS_REVIEW
    assert "HTTP 200" in first.reason and "could not be read" in first.reason
    assert world.journal_states() == ["needs_review"]
    world.clock.now += IDEMPOTENCY_WINDOW + 60
    again = only(world.run())
    assert world.payments() == 1
    if with_reference:  # the site shows the payment: settled from server state
        assert again.outcome is Outcome.SKIPPED and "found transaction" in again.reason
    else:
        assert again.outcome is Outcome.NEEDS_REVIEW and "could not be read" in again.reason


def test_key_reused_after_an_edit_is_needs_review_and_never_resent(tmp_path: Path) -> None:
    """Applied, answer lost; the file's date is then corrected (not part of the business key) and
    run again: Chargebee refuses the key with 422. That proves the earlier request arrived."""
    world = World(tmp_path, with_reference=False)
    assert only(world.run(dropped, policy=ONE_ATTEMPT)).outcome is Outcome.NEEDS_REVIEW
    edited = world.file("edited.csv", date="2026-11-04")
    world.clock.now += 5 * 60
    second = only(world.run(data=edited, policy=FAST_POLICY))
    assert second.outcome is Outcome.NEEDS_REVIEW and second.http_status == 422
    assert "edited after an earlier attempt" in second.reason and "check invoice INV-1" in (
        second.reason)
    assert world.journal_states() == ["needs_review"]
    world.clock.now += IDEMPOTENCY_WINDOW + 60
    third = only(world.run(data=edited))
    assert third.outcome is Outcome.NEEDS_REVIEW
    assert world.payments() == 1


def test_unknown_attempt_then_refusals_is_needs_review_never_failed(tmp_path: Path) -> None:
    """Attempt 1 is applied but times out; every later attempt gets a 429 (surely not applied).
    The first attempt still may have been applied: needs review, left in flight, and a run after
    the window does not post it again."""
    world = World(tmp_path, with_reference=False)
    first = only(world.run(timeout_then_429, policy=FAST_POLICY))
    assert first.outcome is Outcome.NEEDS_REVIEW and first.attempts == FAST_POLICY.max_attempts
    assert "outcome unknown" in first.reason and "ReadTimeout" in first.reason
    assert world.journal_states() == ["in_flight"]
    world.clock.now += IDEMPOTENCY_WINDOW + 60
    again = only(world.run())
    assert again.outcome is Outcome.NEEDS_REVIEW and "will not re-send" in again.reason
    assert world.payments() == 1


async def inv1_dropped_inv2_refused(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    """INV-1: applied, answer lost. INV-2: a 500 that never reached the site."""
    if "/INV-1/" in request.url.path:
        return await dropped(n, request, inner)
    return httpx.Response(500, json={"message": "internal", "type": "operation_failed",
                                     "api_error_code": "internal_error"})


def test_window_closing_at_the_prompt_falls_back_to_the_site_check(tmp_path: Path) -> None:
    """Both calls are left in flight; 27 minutes later they are planned for a re-send inside
    the window, but the operator confirms at +31 minutes. Nothing is re-sent with an expired key:
    the site shows INV-1's payment (skipped) and no payment on INV-2 (posted now)."""
    world = World(tmp_path, with_reference=True, invoices=2)
    world.run(inv1_dropped_inv2_refused, policy=ONE_ATTEMPT)
    world.clock.now += 27 * 60

    def slow_confirm(summary: PlanSummary) -> bool:
        world.clock.now += 4 * 60
        return True

    again = {o.invoice_id: o for o in world.run(confirm=slow_confirm).outcomes}
    assert again["INV-1"].outcome is Outcome.SKIPPED
    assert "found transaction" in again["INV-1"].reason
    assert again["INV-2"].outcome is Outcome.POSTED
    assert world.payments_on("INV-1") == world.payments_on("INV-2") == 1


def test_window_closing_during_back_off_is_needs_review_not_resent(tmp_path: Path) -> None:
    """The re-send's first attempt gets a 503 and the back-off carries it past the window: the
    next attempt is not sent; with no reference to look up, the call needs review."""
    world = World(tmp_path, with_reference=False)
    world.run(dropped, policy=ONE_ATTEMPT)
    world.clock.now += 27 * 60

    async def slow_503(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
        if n > 1:
            return await inner.handle_async_request(request)
        world.clock.now += 4 * 60
        return httpx.Response(503, json={"message": "busy", "type": "operation_failed",
                                         "api_error_code": "internal_temporary_error"})

    again = only(world.run(slow_503, policy=FAST_POLICY))
    assert again.outcome is Outcome.NEEDS_REVIEW and "will not re-send" in again.reason
    assert world.payments() == 1
