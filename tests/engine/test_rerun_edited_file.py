"""Re-running a file with rows added: what was applied is never applied again, and what was not
is posted. Driven through the real client against the in-process sandbox."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
from bp_testkit import (
    Deposit,
    Inner,
    ManualClock,
    OnPost,
    PostHook,
    applied,
    run_options,
    seeded_store,
    synthetic_rows,
    with_transport,
    write_csv,
    write_job,
)

from batchpay.chargebee.retry import RetryPolicy
from batchpay.journal import Journal
from batchpay.records import Outcome, RunResult
from batchpay.run import IDEMPOTENCY_WINDOW, run_job
from batchpay.sandbox import SandboxStore
from batchpay.target import sandbox_target

# -- one wire paying two invoices of one customer -------------------------------------------

ONE_WIRE_SEED = {
    "customers": [{"id": "c1", "currency": "USD", "payment_sources": []}],
    "transactions": [{"id": "txn_old", "customer": "c1", "amount": 1000, "amount_unused": 0,
                      "payment_method": "bank_transfer", "reference_number": "OLD"}],
    "invoices": [
        {"id": "A", "customer": "c1", "status": "payment_due", "total": 10000},
        {"id": "B", "customer": "c1", "status": "payment_due", "total": 10000,
         "amount_due": 9000, "amount_paid": 1000,
         "linked_payments": [{"txn_id": "txn_old", "amount": 1000}]},  # B has payments: checked
    ],
}
WIRE_A = Deposit("A", "100.00", "DEP-9")
WIRE_B = Deposit("B", "50.00", "DEP-9")


def one_wire(tmp: Path) -> tuple[SandboxStore, Path]:
    store = SandboxStore(tmp / "sandbox.sqlite")
    store.load_seed(ONE_WIRE_SEED)
    job = write_job(tmp / "job.yaml", business_key="[reference, invoice_id]")
    return store, job


def outcome_of(result: RunResult, invoice: str) -> Outcome:
    (row,) = [o for o in result.outcomes if o.invoice_id == invoice]
    return row.outcome


def test_a_reference_paying_another_invoice_does_not_skip_this_one(tmp_path: Path) -> None:
    store, job = one_wire(tmp_path)
    run_job(job, write_csv(tmp_path / "d1.csv", [WIRE_A]),
            run_options("execute", tmp_path, target=sandbox_target(store)))
    both = write_csv(tmp_path / "d2.csv", [WIRE_A, WIRE_B])
    again = run_job(job, both, run_options("execute", tmp_path, target=sandbox_target(store)))
    assert outcome_of(again, "A") is Outcome.SKIPPED
    assert outcome_of(again, "B") is Outcome.POSTED
    assert store.invoice("B")["amount_due"] == 4000
    assert [e["invoice_id"] for e in store.ledger()] == ["A", "B"]


def internal_error() -> httpx.Response:
    """A 500 made up in front of the site (the request never reached it): outcome unknown."""
    return httpx.Response(500, json={"message": "internal", "type": "operation_failed",
                                     "api_error_code": "internal_error"})


async def b_answers_500_unsent(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    if "/invoices/B/" in request.url.path:
        return internal_error()
    return await inner.handle_async_request(request)


def test_recovery_does_not_take_another_invoices_payment_as_evidence(tmp_path: Path) -> None:
    """B's call is left in flight (a 500); past the window the site is checked: the DEP-9
    transaction pays A, not B, so B was never applied and is posted now."""
    store, job = one_wire(tmp_path)
    clock = ManualClock()
    data = write_csv(tmp_path / "d.csv", [WIRE_A, WIRE_B])
    lossy = with_transport(sandbox_target(store, clock=clock),
                           lambda inner: OnPost(inner, b_answers_500_unsent))
    first = run_job(job, data, run_options("execute", tmp_path, target=lossy, clock=clock,
                                           policy=RetryPolicy(max_attempts=1)))
    assert outcome_of(first, "B") is Outcome.NEEDS_REVIEW
    clock.now += IDEMPOTENCY_WINDOW + 60
    again = run_job(job, data, run_options("execute", tmp_path, clock=clock,
                                           target=sandbox_target(store, clock=clock)))
    assert outcome_of(again, "B") is Outcome.POSTED
    assert store.invoice("B")["amount_due"] == 4000
    assert [e["invoice_id"] for e in store.ledger()] == ["A", "B"]


# -- an allocation sheet growing between runs (apply_payments rows grouped per invoice) -----

ALLOCATION_JOB = """\
name: allocation
api_version: v2
schema: allocation
input:
  format: csv
fields:
  invoice_id: {column: Invoice}
  transaction_id: {column: Payment Txn}
  amount: {type: money, column: Apply Amount, currency: USD}
  comment: {column: Note, required: false}
action:
  type: apply_payments
  params:
    invoice_id: invoice_id
    transaction_id: transaction_id
    amount: amount
    comment: comment
"""
ALLOCATION_SEED = {
    "customers": [{"id": "c1", "currency": "USD", "payment_sources": [],
                   "excess_payments": 50000}],
    "transactions": [
        {"id": "t1", "customer": "c1", "type": "payment", "amount": 30000,
         "amount_unused": 30000, "payment_method": "bank_transfer"},
        {"id": "t2", "customer": "c1", "type": "payment", "amount": 20000,
         "amount_unused": 20000, "payment_method": "bank_transfer"},
    ],
    "invoices": [{"id": "A", "customer": "c1", "status": "payment_due", "total": 100000}],
}
ROW_T1 = "A,t1,100.00,first\n"
ROW_T2 = "A,t2,50.00,added later\n"


class Allocation:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.store = SandboxStore(tmp / "sandbox.sqlite")
        self.store.load_seed(ALLOCATION_SEED)
        self.job = tmp / "job.yaml"
        self.job.write_text(ALLOCATION_JOB, encoding="utf-8")

    def run(self, *rows: str, hook: PostHook | None = None, **kw: object) -> dict[str, Outcome]:
        data = self.tmp / "allocation.csv"
        data.write_text("Invoice,Payment Txn,Apply Amount,Note\n" + "".join(rows),
                        encoding="utf-8")
        target = sandbox_target(self.store)
        if hook is not None:
            with_transport(target, lambda inner: OnPost(inner, hook))
        result = run_job(self.job, data, run_options("execute", self.tmp, target=target, **kw))
        return {o.raw["Payment Txn"]: o for o in result.outcomes}

    def applied(self) -> list[str]:
        """The transactions each apply_payments in the ledger applied, in order."""
        return [",".join(v for k, v in sorted(e["params"].items())
                         if k.startswith("transactions[id]"))
                for e in self.store.ledger()]


def test_a_row_added_to_an_applied_group_applies_only_the_new_row(tmp_path: Path) -> None:
    sheet = Allocation(tmp_path)
    assert sheet.run(ROW_T1)["t1"].outcome is Outcome.POSTED
    grown = sheet.run(ROW_T1, ROW_T2)
    assert grown["t1"].outcome is Outcome.SKIPPED and "already applied" in grown["t1"].reason
    assert grown["t2"].outcome is Outcome.POSTED
    again = sheet.run(ROW_T2, ROW_T1)  # reordered: still nothing to apply
    assert {o.outcome for o in again.values()} == {Outcome.SKIPPED}
    assert sheet.applied() == ["t1", "t2"]
    invoice = sheet.store.invoice("A")
    assert invoice is not None and invoice["amount_paid"] == 15000


async def dropped(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    await applied(request, inner)
    raise httpx.RemoteProtocolError("Server disconnected", request=request)


def test_a_row_of_an_unfinished_group_is_not_sent_again_in_a_new_group(tmp_path: Path) -> None:
    """The first call (t1) is applied but its answer is lost; the sheet then grows by t2. t1's
    outcome is unknown: needs review, never sent in the new call; t2 alone is applied."""
    sheet = Allocation(tmp_path)
    first = sheet.run(ROW_T1, hook=dropped, policy=RetryPolicy(max_attempts=1))
    assert first["t1"].outcome is Outcome.NEEDS_REVIEW
    grown = sheet.run(ROW_T1, ROW_T2)
    assert grown["t1"].outcome is Outcome.NEEDS_REVIEW
    assert "will not send it again" in grown["t1"].reason
    assert grown["t2"].outcome is Outcome.POSTED
    assert sheet.applied() == ["t1", "t2"]


# -- the journal after an edit --------------------------------------------------------------


async def answers_500_unsent(n: int, request: httpx.Request, inner: Inner) -> httpx.Response:
    return internal_error()


def test_the_journal_keeps_the_request_last_sent_after_an_edit(tmp_path: Path) -> None:
    """A call left unfinished, then the file's date corrected (not part of the business key):
    the re-send carries the new date, and so must the journal."""
    store = seeded_store(1, "JR-")
    job = write_job(tmp_path / "job.yaml", with_reference=False)
    (row,) = synthetic_rows(1, "JR-", amount="40.00")
    typo = write_csv(tmp_path / "d1.csv", [replace(row, date="2026-11-30")])
    lossy = with_transport(sandbox_target(store), lambda inner: OnPost(inner, answers_500_unsent))
    run_job(job, typo, run_options("execute", tmp_path, target=lossy,
                                   policy=RetryPolicy(max_attempts=1)))
    fixed = write_csv(tmp_path / "d2.csv", [replace(row, date="2026-11-03")])
    again = run_job(job, fixed, run_options("execute", tmp_path, target=sandbox_target(store)))
    assert [o.outcome for o in again.outcomes] == [Outcome.POSTED]
    journal = Journal(tmp_path / "journal.sqlite")
    (entry,) = journal.entries()
    journal.close()
    sent = dict(json.loads(str(entry[6]))["form"])
    (applied_entry,) = store.ledger()
    assert sent == applied_entry["params"]
