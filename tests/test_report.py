"""The reconciliation workbook, JSON summary and terminal table, from hand-built records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from batchpay.records import CellFailure, Origin, Outcome, RowOutcome, RunInfo, RunResult
from batchpay.report import (
    write_report,
)

COLUMNS = ("Invoice", "Customer", "Amount", "Currency", "Method", "Paid on", "Reference")
KEYS = ("Invoice", "Reference")
SECRET = "cb_test_9f8e7d6c5b4a3210SECRET"
PARIS = timezone(timedelta(hours=2))
HYPERLINK = '=HYPERLINK("http://x","y")'


def raw(invoice: str, amount: str, currency: str, **more: str) -> dict[str, str]:
    cells = {"Invoice": invoice, "Customer": more.pop("customer", "cus_1"), "Amount": amount,
             "Currency": currency, "Method": more.pop("method", "bank_transfer"),
             "Paid on": more.pop("paid_on", "2024-05-02"), "Reference": more.pop("ref", "")}
    assert not more
    return cells


def row(line: int, outcome: Outcome, cells: dict[str, str], **fields: Any) -> RowOutcome:
    """A row as the engine would report it; parsed fields default from the raw cells."""
    parsed: dict[str, Any] = {
        "action": "record_payment", "invoice_id": cells["Invoice"],
        "customer_id": cells["Customer"], "currency": cells["Currency"],
        "payment_method": cells["Method"],
        "date": datetime(2024, 5, 2, tzinfo=PARIS),
        "business_key": f"bank:{cells['Reference'] or cells['Invoice']}",
        "idempotency_key": f"bp-{line:04d}",
    }
    return RowOutcome(Origin(line), outcome, cells, **{**parsed, **fields})


def sample_outcomes(mode: str) -> list[RowOutcome]:
    """The same mixed sample as a dry run or an execute would report it."""
    execute = mode == "execute"
    post = Outcome.POSTED if execute else Outcome.WOULD_POST
    fail = Outcome.FAILED if execute else Outcome.WOULD_FAIL
    done = {"invoice_status_after": "paid"} if execute else {}

    def posted(n: int, **f: Any) -> dict[str, Any]:
        return {**done, "transaction_id": f"txn_{n}"} if execute else {}

    return [
        row(2, post, raw("00012", "1,250.00", "USD", ref="DEP-1"), amount_minor=125000,
            **posted(1)),
        row(3, post, raw("INV-2", "12000", "JPY", method="check"), amount_minor=12000,
            **posted(2), **({"replayed": True} if execute else {})),
        row(4, post, raw("INV-3", "1.234", "KWD"), amount_minor=1234, **posted(3)),
        row(5, Outcome.SKIPPED, raw("INV-4", "99.99", "USD"), amount_minor=9999,
            reason="filter: Status is not Cleared"),
        row(6, Outcome.SKIPPED, raw("00012", "1,250.00", "USD", ref="DEP-1"),
            amount_minor=125000, reason="duplicate in file: same as line 2"),
        row(7, fail, raw("INV-6", "50.00", "USD"), amount_minor=5000,
            reason="=cmd|' /C calc'!A0" if execute else "invoice INV-6 is voided",
            http_status=400 if execute else None,
            api_error_code="invalid_state_for_request" if execute else None,
            error_param="invoice_id" if execute else None, attempts=1 if execute else 0),
        row(8, fail, raw("INV-7", "3000", "JPY"), amount_minor=3000,
            reason="Invoice INV-7 not found", http_status=404 if execute else None,
            api_error_code="resource_not_found" if execute else None,
            attempts=3 if execute else 0),
        row(9, fail, raw("INV-8", "-12.50", "USD"), amount_minor=-1250,
            reason="amount must be positive", http_status=400 if execute else None,
            api_error_code="param_wrong_value" if execute else None,
            error_param="transaction[amount]" if execute else None,
            attempts=1 if execute else 0),
        row(10, Outcome.INVALID, raw("INV-9", "12,5O", "USD"), amount_minor=None,
            payment_method=None, business_key=None, idempotency_key=None,
            failures=(CellFailure(Origin(10), "Amount", "12,5O", "is not an amount",
                                  "a number like 1,234.56"),)),
        row(11, Outcome.INVALID, raw("INV-10", "10.00", "XXY", paid_on="31/02/2024"),
            currency=None, amount_minor=None, date=None, business_key=None,
            idempotency_key=None,
            failures=(CellFailure(Origin(11), "Currency", "XXY", "is not a currency"),
                      CellFailure(Origin(11), "Paid on", "31/02/2024", "is not a date",
                                  "YYYY-MM-DD"))),
        row(12, Outcome.NEEDS_REVIEW, raw("INV-11", "300.00", "USD"), amount_minor=30000,
            reason="timed out after sending; Chargebee may have recorded it", attempts=2),
        row(13, Outcome.SKIPPED,
            raw("@SUM(A1)", "10.00", "USD", customer="+1+1", method="-cmd", ref=HYPERLINK),
            amount_minor=1000, reason="already paid"),
    ]


def sample(mode: str, **info: Any) -> RunResult:
    outcomes = sample_outcomes(mode)
    facts: dict[str, Any] = {
        "job_name": "bank deposits", "input_name": "deposits-may.csv",
        "input_sha256": "ab" * 32, "mode": mode, "target": "built-in sandbox",
        "api_version": "v2", "batchpay_version": "0.1.0",
        "started_at": datetime(2024, 5, 3, 9, 30, 5, tzinfo=PARIS),
        "finished_at": datetime(2024, 5, 3, 9, 31, 0, tzinfo=PARIS),
        "operator": "ana", "input_columns": COLUMNS, "key_columns": KEYS,
        "rows_read": len(outcomes), "notes": ("offline: no live checks",),
    }
    return RunResult(RunInfo(**{**facts, **info}), outcomes)


@pytest.fixture(scope="module", params=["dry-run", "execute"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def book(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = write_report(sample(mode), tmp_path_factory.mktemp(mode) / "report.xlsx")
    return openpyxl.load_workbook(path)


def records(ws: Any) -> list[dict[str, Any]]:
    """Data rows as dicts by header."""
    rows = ws.iter_rows(values_only=True)
    header = next(rows)
    return [dict(zip(header, values, strict=True)) for values in rows]


def cells_of(ws: Any, header: str) -> list[Any]:
    names = [c.value for c in ws[1]]
    index = names.index(header)
    return [r[index] for r in ws.iter_rows(min_row=2)]


def summary_row(ws: Any, currency: str, measure: str) -> list[Any]:
    for r in ws.iter_rows():
        if r[0].value == currency and len(r) > 1 and r[1].value == measure:
            return list(r)
    raise AssertionError(f"no {currency} {measure} row")


def dec(value: Any) -> Decimal:
    return Decimal(str(value))
