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
from batchpay.run import IDEMPOTENCY_WINDOW, run_job
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
    """One invoice, a job, a journal and a clock shared by every run of a test."""

    def __init__(self, tmp: Path, *, with_reference: bool) -> None:
        self.tmp = tmp
        self.clock = ManualClock()
        self.store = SandboxStore(tmp / "sandbox.sqlite")
        self.store.load_seed({
            "customers": [{"id": "c1", "currency": "USD", "payment_sources": []}],
            "invoices": [{"id": "INV-1", "customer": "c1", "status": "payment_due",
                          "total": 10000}],
        })
        self.job = write_job(tmp / "job.yaml", with_reference=with_reference)
        self.data = self.file("d.csv", date="2026-11-03")

    def file(self, name: str, *, date: str) -> Path:
        return write_csv(self.tmp / name, [Deposit("INV-1", "40.00", "R1", date=date)])

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
