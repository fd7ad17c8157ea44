"""Issue 14 item 1: a dry run reads the payments already on the file's invoices in batches
(``GET /transactions?id[in]=[...]``, 100 per request) and matches references locally, instead
of one ``reference_number[is]`` look-up per reference. The predictions stay the same."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bp_testkit import (
    CountingTransport,
    Deposit,
    run_options,
    with_transport,
    write_csv,
    write_job,
)

from batchpay.api import run_and_report
from batchpay.records import Outcome
from batchpay.sandbox import SandboxStore
from batchpay.target import sandbox_target

SEED: dict[str, Any] = {
    "customers": [{"id": "c1", "currency": "USD", "payment_sources": ["pm_1"]}],
    "transactions": [
        # one wire (one reference) paid two invoices of the customer: INV-A and INV-B
        {"id": "txn_wire", "customer": "c1", "amount": 30000, "reference_number": "WIRE-1"},
        {"id": "txn_other", "customer": "c1", "amount": 5000, "reference_number": "CHQ-9"},
        # the same reference on a payment that pays an invoice the file does not touch
        {"id": "txn_elsewhere", "customer": "c1", "amount": 1000, "reference_number": "DEP-7"},
    ],
    "invoices": [
        {"id": "INV-A", "customer": "c1", "status": "payment_due", "total": 40000,
         "linked_payments": [{"txn_id": "txn_wire", "amount": 20000}]},
        {"id": "INV-B", "customer": "c1", "status": "payment_due", "total": 40000,
         "linked_payments": [{"txn_id": "txn_wire", "amount": 10000},
                             {"txn_id": "txn_other", "amount": 5000}]},
        {"id": "INV-C", "customer": "c1", "status": "payment_due", "total": 40000},
        {"id": "INV-D", "customer": "c1", "status": "paid", "total": 1000, "amount_due": 0,
         "amount_paid": 1000, "linked_payments": [{"txn_id": "txn_elsewhere", "amount": 1000}]},
    ],
}


def _dry_run(tmp: Path, store: SandboxStore, rows: list[Deposit], version: str = "v2"):
    counter: list[CountingTransport] = []

    def wrap(inner: Any) -> CountingTransport:
        counter.append(CountingTransport(inner))
        return counter[0]

    target = with_transport(sandbox_target(store, version=version), wrap)
    job = write_job(tmp / "job.yaml", business_key="[reference, invoice_id]")
    if version == "v1":
        job.write_text(job.read_text().replace("api_version: v2", "api_version: v1"))
    data = write_csv(tmp / "rows.csv", rows)
    report = run_and_report(job, data, run_options("dry-run", tmp, target=target),
                            report_path=tmp / "report.xlsx")
    return report.result, counter[0]


def _store(seed: dict[str, Any]) -> SandboxStore:
    store = SandboxStore(":memory:")
    store.load_seed(seed)
    return store


def test_references_match_locally_with_one_batched_read(tmp_path: Path) -> None:
    rows = [
        Deposit("INV-A", "50.00", "WIRE-1"),  # the wire already pays INV-A: skipped
        Deposit("INV-B", "50.00", "WIRE-1"),  # ... and INV-B: skipped
        Deposit("INV-B", "50.00", "CHQ-1"),  # a new reference on an invoice with payments
        Deposit("INV-C", "50.00", "WIRE-1"),  # same reference, invoice it does not pay: posts
        Deposit("INV-C", "50.00", "DEP-7"),  # DEP-7 pays INV-D only: posts
    ]
    result, transport = _dry_run(tmp_path, _store(SEED), rows)
    outcomes = [(o.outcome, o.reason) for o in result.outcomes]
    assert outcomes[0][0] is Outcome.SKIPPED and "transaction txn_wire" in outcomes[0][1]
    assert outcomes[1][0] is Outcome.SKIPPED and "transaction txn_wire" in outcomes[1][1]
    assert [o for o, _ in outcomes[2:]] == [Outcome.WOULD_POST] * 3
    assert transport.count("GET", "/transactions") == 1
    reads = [p for p in transport.raw_paths if "/transactions" in p]
    assert "id%5Bin%5D" in reads[0] and "reference_number" not in reads[0]


def test_no_transaction_read_when_no_invoice_carries_payments(tmp_path: Path) -> None:
    result, transport = _dry_run(tmp_path, _store(SEED), [Deposit("INV-C", "10.00", "X-1")])
    assert result.outcomes[0].outcome is Outcome.WOULD_POST
    assert transport.count("GET", "/transactions") == 0


def test_linked_payments_are_read_100_per_request(tmp_path: Path) -> None:
    n = 230  # three id[in] requests: 100 + 100 + 30
    seed: dict[str, Any] = {
        "customers": [{"id": "c1", "currency": "USD"}],
        "transactions": [{"id": f"txn_{i}", "customer": "c1", "amount": 100,
                          "reference_number": f"R-{i}"} for i in range(n)],
        "invoices": [{"id": f"INV-{i}", "customer": "c1", "status": "payment_due",
                      "total": 10000, "linked_payments": [{"txn_id": f"txn_{i}"}]}
                     for i in range(n)],
    }
    # even rows repeat the payment already on their invoice; odd rows pay with a new reference
    rows = [Deposit(f"INV-{i}", "1.00", f"R-{i}" if i % 2 == 0 else f"NEW-{i}")
            for i in range(n)]
    result, transport = _dry_run(tmp_path, _store(seed), rows)
    skipped = [o.origin.row for o in result.outcomes if o.outcome is Outcome.SKIPPED]
    posting = [o.origin.row for o in result.outcomes if o.outcome is Outcome.WOULD_POST]
    assert len(skipped) == n // 2 and len(posting) == n - n // 2
    assert all(row % 2 == 0 for row in skipped)  # data rows start at line 2: INV-0 is line 2
    assert transport.count("GET", "/transactions") == math.ceil(n / 100)
    assert transport.count("GET", "/invoices") == math.ceil(n / 100)


def test_api_v1_reads_no_transactions(tmp_path: Path) -> None:
    rows = [Deposit("INV-A", "50.00", "WIRE-1"), Deposit("INV-C", "50.00", "X-2")]
    result, transport = _dry_run(tmp_path, _store(SEED), rows, version="v1")
    assert transport.count("GET", "/transactions") == 0
    assert [o.outcome for o in result.outcomes] == [Outcome.WOULD_POST, Outcome.WOULD_POST]
