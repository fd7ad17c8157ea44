"""The reconciliation workbook, JSON summary and terminal table, from hand-built records."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import column_index_from_string

from batchpay.records import CellFailure, Origin, Outcome, RowOutcome, RunInfo, RunResult
from batchpay.report import (
    CurrencyTotals,
    Totals,
    control_totals,
    default_report_path,
    terminal_summary,
    write_report,
    write_summary_json,
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


def column(ws: Any, letter: str) -> Any:
    """The ``<col>`` settings covering column ``letter``: a file may give adjacent columns of
    the same width as one range (``min``..``max``), which openpyxl keys by its first letter."""
    index = column_index_from_string(letter)
    for dimension in ws.column_dimensions.values():
        if dimension.min is not None and dimension.min <= index <= dimension.max:
            return dimension
    raise AssertionError(f"no width set for column {letter} of {ws.title}")


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


# --- sheets and totals -------------------------------------------------------------------


def test_sheet_names(book: Any, mode: str) -> None:
    posted = "Posted" if mode == "execute" else "Would post"
    assert book.sheetnames == ["Summary", posted, "Skipped", "Errors", "Invalid rows",
                               "Needs review", "Fix and re-upload"]


def test_needs_review_sheet_only_when_any(tmp_path: Path) -> None:
    result = sample("execute")
    result.outcomes = [o for o in result.outcomes if o.outcome is not Outcome.NEEDS_REVIEW]
    result.info.rows_read = len(result.outcomes)
    book = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx"))
    assert "Needs review" not in book.sheetnames


@pytest.mark.parametrize(
    ("currency", "measure", "expected"),
    [
        # read, posted, skipped, failed, invalid, needs review
        ("USD", "rows", [7, 1, 3, 2, 0, 1]),
        ("USD", "amount", ["2947.49", "1250.00", "1359.99", "37.50", "0", "300.00"]),
        ("JPY", "rows", [2, 1, 0, 1, 0, 0]),
        ("JPY", "amount", ["15000", "12000", "0", "3000", "0", "0"]),
        ("KWD", "amount", ["1.234", "1.234", "0", "0", "0", "0"]),
        ("unknown", "rows", [2, 0, 0, 0, 2, 0]),
    ],
)
def test_summary_control_totals_to_the_cent(
    book: Any, currency: str, measure: str, expected: list[Any]
) -> None:
    cells = summary_row(book["Summary"], currency, measure)
    values = [c.value for c in cells[2:8]]
    if measure == "amount":
        assert [dec(v) for v in values] == [Decimal(e) for e in expected]
    else:
        assert values == expected
    assert cells[8].value == "OK"


def test_summary_amounts_are_numbers_in_the_currency_format(book: Any) -> None:
    ws = book["Summary"]
    for currency, fmt in (("USD", "#,##0.00"), ("JPY", "#,##0"), ("KWD", "#,##0.000")):
        read = summary_row(ws, currency, "amount")[2]
        assert read.data_type == "n"
        assert read.number_format == fmt


def test_summary_states_the_check_and_the_mode(book: Any, mode: str) -> None:
    text = "\n".join(str(c.value) for r in book["Summary"].iter_rows() for c in r if c.value)
    posted, failed = ("posted", "failed") if mode == "execute" else ("would post", "would fail")
    assert f"read = {posted} + skipped + {failed} + invalid + needs review" in text
    assert ("EXECUTE" if mode == "execute" else "DRY RUN: nothing was sent") in text
    assert "ab" * 32 in text  # the input's SHA-256
    assert "OK: all 12 rows read are in this report" in text


def test_summary_story_explains_the_run(book: Any, mode: str) -> None:
    ws = book["Summary"]
    start = next(r[0].row for r in ws.iter_rows() if r[0].value == "What happened")
    lines = []
    for r in ws.iter_rows(min_row=start + 1):
        if r[0].value is None:
            break
        lines.append(r[0].value)
    story = " ".join(lines)
    assert 'read 12 rows from the file "deposits-may.csv"' in story
    if mode == "execute":
        assert "3 rows posted to Chargebee (JPY 12,000, KWD 1.234 and USD 1,250.00)" in story
    else:
        assert "nothing was sent to Chargebee" in story
        assert "3 rows would be posted (JPY 12,000, KWD 1.234 and USD 1,250.00)" in story
    assert "The control totals balance" in story
    assert '6 rows to fix are on the "Fix and re-upload" sheet' in story


def test_summary_totals_by_payment_method_and_action(book: Any) -> None:
    ws = book["Summary"]
    check = summary_row(ws, "JPY", "check")
    assert [c.value for c in check[2:6]] == [1, 12000, 1, 12000]
    bank = summary_row(ws, "USD", "bank_transfer")
    assert [bank[2].value, dec(bank[3].value)] == [6, Decimal("2937.49")]
    action = summary_row(ws, "USD", "record_payment")
    assert [action[2].value, dec(action[3].value), action[4].value] == [7, Decimal("2947.49"), 1]


def test_rows_read_mismatch_is_flagged(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_report(sample("execute", rows_read=13),
                                               tmp_path / "r.xlsx"))
    row = next(r for r in book["Summary"].iter_rows() if r[0].value == "Rows read")
    assert row[2].value == "MISMATCH: 13 rows read, but 12 in this report"
    assert row[2].fill.fgColor.rgb.endswith("FFC7CE")


def test_control_totals_balance() -> None:
    totals = {t.currency: t for t in control_totals(sample_outcomes("execute"))}
    assert list(totals) == ["JPY", "KWD", "USD", "?"]
    usd = totals["USD"]
    assert usd.read == Totals(7, 294749)
    assert usd.by_category["failed"] == Totals(2, 3750)
    assert all(t.balanced for t in totals.values())
    off = CurrencyTotals("USD", Totals(2, 100), {"posted": Totals(2, 99)})
    assert not off.balanced


# --- row sheets ---------------------------------------------------------------------------


def posted_sheet(book: Any) -> Any:
    return book[book.sheetnames[1]]


def test_posted_rows(book: Any, mode: str) -> None:
    rows = records(posted_sheet(book))
    assert [r["Row"] for r in rows] == [2, 3, 4]
    first = rows[0]
    assert "Source" not in first and "Sheet" not in first  # a CSV line: "Row" says it all
    technical = ["Business key", "Idempotency key"]
    technical += ["Idempotent replay"] if mode == "execute" else []
    assert list(first)[-len(technical):] == technical  # at the right, grouped
    headers = list(first)
    assert headers.index("Reference") > headers.index("Action")  # the input's text after ours
    assert (first["Invoice"], first["Reference"]) == ("00012", "DEP-1")  # the input's keys
    assert (first["Invoice id"], first["Currency"], first["Action"]) == ("00012", "USD",
                                                                         "record_payment")
    if mode == "execute":
        assert [r["Chargebee transaction id"] for r in rows] == ["txn_1", "txn_2", "txn_3"]
        assert [r["Idempotent replay"] for r in rows] == ["no", "yes", "no"]
        assert first["Invoice status after"] == "paid"
    else:
        assert "Chargebee transaction id" not in first


def test_money_formats_per_row(book: Any) -> None:
    amounts = cells_of(posted_sheet(book), "Amount")
    assert [dec(c.value) for c in amounts] == [Decimal("1250"), Decimal("12000"),
                                               Decimal("1.234")]
    assert [c.number_format for c in amounts] == ["#,##0.00", "#,##0", "#,##0.000"]
    assert all(c.data_type == "n" for c in amounts)


def test_dates_are_dates(book: Any) -> None:
    dates = cells_of(posted_sheet(book), "Date")
    assert all(c.is_date for c in dates)
    assert dates[0].value == datetime(2024, 5, 2)
    started = next(r for r in book["Summary"].iter_rows() if r[0].value == "Started")
    # one cell, so that the time never runs into the offset beside it
    assert [c.value for c in started if c.value] == ["Started", "2024-05-03 09:30:05 UTC+02:00"]


def test_ids_are_text_with_leading_zeros(book: Any) -> None:
    for header in ("Invoice id", "Invoice"):
        cell = cells_of(posted_sheet(book), header)[0]
        assert (cell.value, cell.data_type, cell.number_format) == ("00012", "s", "@")


def test_negative_amount_stays_a_number(book: Any) -> None:
    errors = {r[0].value: r for r in book["Errors"].iter_rows(min_row=2)}
    names = [c.value for c in book["Errors"][1]]
    amount = errors[9][names.index("Amount")]
    assert amount.value == -12.5 and amount.data_type == "n"


def test_amounts_beyond_what_a_spreadsheet_holds_exactly_are_exact_text(tmp_path: Path) -> None:
    """Issue 13 item 13: 2^63-1 minor units came out as 9.223372036854776e+16. Row amounts are
    bounded when read; a total of many can still pass 15 digits, and is then written as text."""
    big = 10**15 - 1
    outcomes = [row(line, Outcome.WOULD_POST, raw(f"INV-{line}", "9,999,999,999,999.99", "USD"),
                    amount_minor=big) for line in (2, 3)]
    result = RunResult(replace(sample("dry-run").info, rows_read=2), outcomes)
    book = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx"))
    amounts = cells_of(posted_sheet(book), "Amount")
    largest = (Decimal("9999999999999.99"), "n")
    assert [(dec(c.value), c.data_type) for c in amounts] == [largest, largest]
    texts = [c.value for r in book["Summary"].iter_rows() for c in r if isinstance(c.value, str)]
    assert "19,999,999,999,999.98" in texts


def test_skipped_reasons(book: Any) -> None:
    reasons = [r["Reason"] for r in records(book["Skipped"])]
    assert reasons == ["filter: Status is not Cleared", "duplicate in file: same as line 2",
                       "already paid"]


def test_errors_sheet(book: Any, mode: str) -> None:
    rows = records(book["Errors"])
    assert [r["Row"] for r in rows] == [7, 8, 9]
    if mode == "execute":
        r = rows[1]
        assert (r["HTTP status"], r["API error code"], r["Attempts"]) == (404,
                                                                          "resource_not_found", 3)
        assert r["Message"] == "Invoice INV-7 not found"
        assert rows[2]["Param"] == "transaction[amount]"
    else:
        assert rows[0]["Message"] == "invoice INV-6 is voided"


def test_invalid_rows_one_line_per_failure(book: Any) -> None:
    rows = records(book["Invalid rows"])
    assert [(r["Row"], r["Column"], r["Raw value"], r["Problem"], r["Expected"])
            for r in rows] == [
        (10, "Amount", "12,5O", "is not an amount", "a number like 1,234.56"),
        (11, "Currency", "XXY", "is not a currency", None),
        (11, "Paid on", "31/02/2024", "is not a date", "YYYY-MM-DD"),
    ]
    assert rows[0]["Invoice"] == "INV-9"


def test_needs_review_sheet(book: Any) -> None:
    (r,) = records(book["Needs review"])
    assert r["Row"] == 12
    assert r["What is known"].startswith("timed out after sending")


def test_headers_bold_frozen_filtered_and_sized(book: Any) -> None:
    for ws in book.worksheets[1:]:
        assert ws.freeze_panes == "A2"
        assert all(c.font.b for c in ws[1])
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        widths = [column(ws, c.column_letter).width for c in ws[1]]
        assert all(8 <= w <= 60 for w in widths)
        for cell in ws[1]:
            assert column(ws, cell.column_letter).width >= len(cell.value)


# --- fix and re-upload --------------------------------------------------------------------


def test_fix_and_reupload_round_trip(book: Any, mode: str) -> None:
    ws = book["Fix and re-upload"]
    header = [c.value for c in ws[1]]
    assert header == [*COLUMNS, "batchpay: source row", "batchpay: outcome",
                      "batchpay: problem"]
    expected = [o for o in sample_outcomes(mode)
                if o.outcome.category in ("failed", "invalid", "needs_review")]
    rows = records(ws)
    assert [{c: r[c] or "" for c in COLUMNS} for r in rows] == [dict(o.raw) for o in expected]
    assert [r["batchpay: source row"] for r in rows] == [f"line {n}" for n in (7, 8, 9, 10, 11,
                                                                                12)]
    assert rows[3]["batchpay: outcome"] == "invalid"
    assert rows[3]["batchpay: problem"] == ('column "Amount": "12,5O" is not an amount '
                                            "(expected a number like 1,234.56)")
    original = [c for c in ws.iter_rows(min_row=2, max_col=len(COLUMNS)) for c in c]
    assert all(c.data_type == "s" and c.number_format == "@" for c in original if c.value)


def test_fix_sheet_reads_back_as_input(tmp_path: Path) -> None:
    """The sheet, fed back as a spreadsheet of strings, gives the original rows."""
    pandas = pytest.importorskip("pandas")
    path = write_report(sample("execute"), tmp_path / "r.xlsx")
    frame = pandas.read_excel(path, sheet_name="Fix and re-upload", dtype=str,
                              keep_default_na=False, engine="openpyxl")
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert frame.iloc[2]["Amount"] == "-12.50"
    assert frame.iloc[0]["Invoice"] == "INV-6"


# --- safety -------------------------------------------------------------------------------


def test_formula_like_text_stays_text(book: Any) -> None:
    skipped = records(book["Skipped"])[-1]
    assert (skipped["Invoice"], skipped["Reference"]) == ("@SUM(A1)", HYPERLINK)
    assert (skipped["Customer id"], skipped["Payment method"]) == ("+1+1", "-cmd")
    row = next(r for r in book["Skipped"].iter_rows(min_row=2) if r[0].value == 13)
    risky = [c for c in row if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert len(risky) == 5  # invoice (twice), reference, customer, method
    assert all(c.data_type == "s" and c.quotePrefix for c in risky)


def test_no_formula_anywhere_in_the_xml(tmp_path: Path) -> None:
    path = write_report(sample("execute"), tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in s or "<f " in s for s in sheets)
    assert any("=HYPERLINK" in s for s in sheets) and any("=cmd|" in s for s in sheets)


def test_api_message_starting_with_equals_is_text(book: Any, mode: str) -> None:
    message = cells_of(book["Errors"], "Message")[0]
    expected = "=cmd|' /C calc'!A0" if mode == "execute" else "invoice INV-6 is voided"
    assert message.value == expected and message.data_type == "s"


def test_awkward_text_is_kept_readable(tmp_path: Path) -> None:
    result = sample("execute")
    result.outcomes[3] = replace(result.outcomes[3], reason="bad\x00char #N/A", customer_id="#N/A",
                                 invoice_id="\tINV", payment_method="x" * 40_000)
    book = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx"))
    row = records(book["Skipped"])[0]
    assert row["Reason"] == "bad\ufffdchar #N/A"
    assert row["Customer id"] == "#N/A"
    assert row["Invoice id"] == "\tINV"
    assert len(row["Payment method"]) == 32_767


def all_text(path: Path) -> Iterator[str]:
    book = openpyxl.load_workbook(path)
    for ws in book.worksheets:
        for r in ws.iter_rows(values_only=True):
            yield from (str(v) for v in r if v is not None)


def test_the_api_key_never_appears(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGEBEE_API_KEY", SECRET)
    result = sample("execute")
    path = write_report(result, tmp_path / "r.xlsx")
    json_path = write_summary_json(result, path)
    assert not any(SECRET in text for text in all_text(path))
    assert SECRET not in json_path.read_text()
    assert SECRET not in terminal_summary(result, path)


# --- splitting, empty runs, paths ---------------------------------------------------------


def test_rows_continue_on_a_second_sheet(tmp_path: Path) -> None:
    result = sample("execute")
    book = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx",
                                               max_rows_per_sheet=3))
    assert [n for n in book.sheetnames if n.startswith("Posted")] == ["Posted", "Posted (2)"]
    assert [r["Row"] for r in records(book["Posted"])] == [2, 3]
    assert [r["Row"] for r in records(book["Posted (2)"])] == [4]
    assert [c.value for c in book["Posted (2)"][1]] == [c.value for c in book["Posted"][1]]
    assert book["Posted (2)"].freeze_panes == "A2"
    fix = [n for n in book.sheetnames if n.startswith("Fix")]
    assert fix == ["Fix and re-upload", "Fix and re-upload (2)", "Fix and re-upload (3)"]
    # exactly full: no empty continuation sheet
    assert "Skipped (2)" in book.sheetnames and "Skipped (3)" not in book.sheetnames
    assert "Needs review (2)" not in book.sheetnames


def test_empty_run(tmp_path: Path) -> None:
    result = RunResult(replace(sample("dry-run").info, rows_read=0), [])
    book = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx"))
    assert book.sheetnames == ["Summary", "Would post", "Skipped", "Errors", "Invalid rows",
                               "Fix and re-upload"]
    assert book["Would post"].max_row == 1
    assert "No rows were read." in terminal_summary(result, None)


def test_default_report_path() -> None:
    when = datetime(2024, 5, 3, 9, 30, 5)
    path = default_report_path(Path("reports"), "bank deposits/May", "dry-run", when)
    assert path == Path("reports/bank-deposits-May-20240503-093005-dry-run.xlsx")


def test_write_creates_folder_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = write_report(sample("dry-run"), tmp_path / "reports" / "r.xlsx")
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["r.xlsx"]


def test_a_write_failing_half_way_leaves_no_files(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the half-written workbook nor the rows already streamed to temporary files (the
    Summary is written when a row sheet fails) are left behind, here or in the temp folder."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    base = sample("dry-run")
    broken = [replace(o, date="2024-05-02") if o.origin.row == 4 else o for o in base.outcomes]
    with pytest.raises(TypeError):  # a date that is not one: a bug's stand-in
        write_report(replace(base, outcomes=broken), tmp_path / "reports" / "r.xlsx")
    assert list((tmp_path / "reports").iterdir()) == []
    assert list(scratch.iterdir()) == []


# --- JSON and terminal --------------------------------------------------------------------


def test_summary_json(tmp_path: Path) -> None:
    path = write_summary_json(sample("execute"), tmp_path / "job-20240503-093005-execute.xlsx")
    assert path.name == "job-20240503-093005-execute.json"
    data = json.loads(path.read_text())
    assert data["info"]["mode"] == "execute"
    assert data["info"]["started_at"] == "2024-05-03T09:30:05+02:00"
    assert data["counts"] == {"posted": 3, "skipped": 3, "failed": 3, "invalid": 2,
                              "needs_review": 1}
    assert data["outcomes"]["posted"] == 3
    assert data["balanced"] is True and data["rows_check"]["ok"] is True
    usd = next(t for t in data["control_totals"] if t["currency"] == "USD")
    assert usd["read"] == {"count": 7, "amount_minor": 294749, "amount": "2947.49"}
    assert usd["by_category"]["failed"]["amount"] == "37.50"
    unknown = data["control_totals"][-1]
    assert unknown["currency"] == "?" and unknown["read"]["amount"] is None


def test_terminal_summary(mode: str) -> None:
    text = terminal_summary(sample(mode), Path("reports/x.xlsx"))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Report: reports/x.xlsx" in text
    lines = text.splitlines()
    assert lines[2].split() == ["JPY", "KWD", "USD", "unknown"]
    read = next(line for line in lines if line.startswith("read"))
    assert read.split() == ["read", "2", "15,000", "1", "1.234", "7", "2,947.49", "2"]
    posted = "posted" if mode == "execute" else "would post"
    assert next(line for line in lines if line.startswith(posted)).split()[-3:] == ["1",
                                                                                 "1,250.00",
                                                                                 "0"]
    assert "Totals balance: every row is counted once" in text
    assert not any(line.startswith("check") for line in lines)  # no "check OK OK" jargon
    assert "MISMATCH" in terminal_summary(sample(mode, rows_read=99), None)


def section(text: str, heading: str) -> list[str]:
    """The indented lines of the section whose heading starts with ``heading``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("  ") and body:
            break
        if line.startswith("  "):
            body.append(line)
    return body


def attention(text: str) -> list[str]:
    return section(text, "To look at")


def test_terminal_lists_what_to_look_at(mode: str) -> None:
    text = terminal_summary(sample(mode), None)
    fail = "failed" if mode == "execute" else "would fail"
    first = "=cmd|' /C calc'!A0" if mode == "execute" else "invoice INV-6 is voided"
    assert attention(text) == [
        f"  {fail}: line 7: {first}",
        f"  {fail}: line 8: Invoice INV-7 not found",
        f"  {fail}: line 9: amount must be positive",
        '  invalid: line 10: column "Amount": "12,5O" is not an amount (expected a number',
        "      like 1,234.56)",
        '  invalid: line 11: column "Currency": "XXY" is not a currency; column "Paid',
        '      on": "31/02/2024" is not a date (expected YYYY-MM-DD)',
        "  ... and 1 more row for other reasons",
    ]
    head = "To look at (all on the workbook's Errors, Invalid rows, Needs review and Fix and"
    assert head in text.splitlines()


def test_terminal_names_only_the_sheets_that_hold_rows_to_look_at() -> None:
    base = sample("dry-run")
    kept = [o for o in base.outcomes if o.outcome is not Outcome.INVALID
            and o.outcome is not Outcome.NEEDS_REVIEW]
    result = replace(base, outcomes=kept, info=replace(base.info, rows_read=len(kept)))
    text = terminal_summary(result, None)
    assert "To look at (all on the workbook's Errors and Fix and re-upload sheets):" in text
    assert "Needs review" not in text


def test_terminal_groups_skip_reasons_like_failures() -> None:
    base = sample("execute")
    paid = [row(30 + i, Outcome.SKIPPED, raw(f"INV-{30 + i}", "1.00", "USD"), amount_minor=100,
                reason="invoice is already paid") for i in range(7)]
    result = replace(base, outcomes=[*base.outcomes, *paid],
                     info=replace(base.info, rows_read=len(base.outcomes) + 7))
    assert section(terminal_summary(result, None), "Skipped, not sent") == [
        "  7 rows from line 30: invoice is already paid",
        "  line 5: filter: Status is not Cleared",
        "  line 6: duplicate in file: same as line 2",
        "  line 13: already paid",
    ]


def test_terminal_shows_outgoing_rows_skipped_on_their_own_line() -> None:
    """A debit filtered out is not netted into the deposits read (1,955.92 = 2,000 - 44.08)."""
    base = sample("dry-run")
    rows = [
        row(2, Outcome.WOULD_POST, raw("INV-1", "2,000.00", "GBP"), amount_minor=200000),
        row(3, Outcome.SKIPPED, raw("", "-45.20", "GBP"), amount_minor=-4520,
            reason="outgoing payment, not a deposit"),
        row(4, Outcome.SKIPPED, raw("", "1.12", "GBP"), amount_minor=112,
            reason="no invoice number in the description"),
    ]
    text = terminal_summary(replace(base, outcomes=rows, info=replace(base.info, rows_read=3)),
                            None)
    table = {line[:18].strip(): line[18:].split() for line in text.splitlines()[3:9]}
    assert table["read (money in)"] == ["2", "2,001.12"]
    assert table["skipped"] == ["1", "1.12"]
    assert next(line for line in text.splitlines()
                if line.startswith("money out, skipped")).split()[-2:] == ["1", "-45.20"]
    assert "Totals balance" in text


def test_terminal_packs_currencies_into_80_columns() -> None:
    base = sample("dry-run")
    codes = ["AUD", "CAD", "CHF", "DKK", "EUR", "GBP", "NOK", "SEK", "USD"]
    rows = [row(2 + i, Outcome.WOULD_POST, raw(f"INV-{i}", "1", code),
                amount_minor=123_456_789_012 + i) for i, code in enumerate(codes)]
    text = terminal_summary(replace(base, outcomes=rows, info=replace(base.info, rows_read=9)),
                            None)
    assert max(len(line) for line in text.splitlines()) <= 80
    headers = [line.split() for line in text.splitlines() if line.lstrip().startswith("rows")]
    assert sum(header.count("amount") for header in headers) == len(codes)
    assert len(headers) == 5  # two currencies side by side at most, at these amounts
    assert text.count("1,234,567,890.12") == 2  # read and would post, never cut


def test_terminal_colours_only_when_asked() -> None:
    plain = terminal_summary(sample("execute"), None)
    coloured = terminal_summary(sample("execute"), None, color=True)
    assert "\x1b" not in plain
    assert "\x1b[32mTotals balance\x1b[0m:" in coloured
    assert "  \x1b[31mfailed\x1b[0m: line 8: Invoice INV-7 not found" in coloured
    assert "  \x1b[33minvalid\x1b[0m: line 10:" in coloured
    assert "\x1b[31mMISMATCH\x1b[0m" in terminal_summary(sample("execute", rows_read=99), None,
                                                          color=True)


def test_terminal_groups_identical_reasons_most_frequent_first() -> None:
    base = sample("dry-run")
    many = [row(20 + i, Outcome.WOULD_FAIL, raw(f"INV-{i}", "1.00", "GBP"), amount_minor=100,
                reason="customer 000013 not found") for i in range(12)]
    result = replace(base, outcomes=[*base.outcomes, *many],
                     info=replace(base.info, rows_read=len(base.outcomes) + 12))
    assert attention(terminal_summary(result, None))[0] == (
        "  would fail: 12 rows from line 20: customer 000013 not found"
    )


def test_terminal_groups_invalid_rows_with_the_same_failing_cell_value() -> None:
    base = sample("dry-run")
    bad = [row(40 + i, Outcome.INVALID, raw("INV-x", "abc", "USD"), amount_minor=None,
               failures=(CellFailure(Origin(40 + i), "Amount", "abc", "is not an amount"),))
           for i in range(12)]
    result = replace(base, outcomes=bad, info=replace(base.info, rows_read=12))
    assert attention(terminal_summary(result, None)) == [
        '  invalid: 12 rows from line 40: column "Amount": "abc" is not an amount']


def test_terminal_shows_the_run_notes_terminal_safe_and_capped() -> None:
    base = sample("dry-run")
    dropped = tuple(f'line {n} dropped by skip_footer: "Total\x1b[2J {n}"' for n in range(1, 11))
    text = terminal_summary(replace(base, info=replace(base.info, notes=dropped)), None)
    lines = text.splitlines()
    start = lines.index("Notes:")
    assert lines[start + 1 : start + 3] == ['  line 1 dropped by skip_footer: "Total?[2J 1"',
                                            '  line 2 dropped by skip_footer: "Total?[2J 2"']
    assert "  ... and 2 more on the workbook's Summary sheet" in lines
    assert "\x1b" not in text


def test_terminal_never_prints_escape_sequences_from_the_input() -> None:
    base = sample("dry-run")
    hostile = row(30, Outcome.WOULD_FAIL, raw("INV-x", "1.00", "USD"), amount_minor=100,
                  reason="invoice \x1b]0;pwned\x07\x1b[2J not found")
    result = replace(base, outcomes=[hostile], info=replace(base.info, rows_read=1))
    text = terminal_summary(result, None)
    assert "\x1b" not in text and "\x07" not in text
    assert "  would fail: line 30: invoice ?]0;pwned??[2J not found" in text


def test_terminal_has_nothing_to_look_at_when_all_went_well() -> None:
    base = sample("execute")
    good = [o for o in base.outcomes if o.outcome in (Outcome.POSTED, Outcome.SKIPPED)]
    result = replace(base, outcomes=good, info=replace(base.info, rows_read=len(good)))
    assert "To look at" not in terminal_summary(result, None)


# --- LibreOffice (optional) and large runs ------------------------------------------------


def test_converts_to_pdf_with_libreoffice(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    path = write_report(sample("execute"), tmp_path / "r.xlsx")
    done = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.pdf").stat().st_size > 1000


def many_outcomes(count: int) -> Iterator[RowOutcome]:
    day = datetime(2024, 5, 2, tzinfo=UTC)
    kinds = [Outcome.POSTED, Outcome.POSTED, Outcome.SKIPPED, Outcome.FAILED, Outcome.INVALID]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        cells = raw(f"{n:08d}", f"{n % 1000}.25", "USD", ref=f"REF-{n}")
        yield row(n + 2, kind, cells, amount_minor=(n % 1000) * 100 + 25, date=day,
                  transaction_id=f"txn_{n}", reason="x" if kind is not Outcome.POSTED else "",
                  failures=(CellFailure(Origin(n + 2), "Amount", "x", "bad"),)
                  if kind is Outcome.INVALID else ())


def traced_peak(rows: int, path: Path) -> int:
    """Peak memory traced while writing the report of ``rows`` outcomes (built beforehand)."""
    outcomes = list(many_outcomes(rows))
    result = RunResult(replace(sample("execute").info, rows_read=rows), outcomes)
    tracemalloc.start()
    try:
        write_report(result, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    small = traced_peak(300, tmp_path / "small.xlsx")
    large = traced_peak(1_500, tmp_path / "large.xlsx")
    assert large < small * 1.25 + 256 * 1024, (small, large)
    assert large < 8 * 2**20


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not os.environ.get("BATCHPAY_SLOW"), reason="set BATCHPAY_SLOW=1 (~1 min)")
def test_100k_rows_stream_in_bounded_memory(tmp_path: Path) -> None:
    peak = traced_peak(100_000, tmp_path / "big.xlsx")
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    book = openpyxl.load_workbook(tmp_path / "big.xlsx", read_only=True)
    assert sum(1 for _ in book["Posted"].iter_rows(values_only=True)) == 40_001
