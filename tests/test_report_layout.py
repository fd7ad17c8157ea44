"""The workbook as the accountant sees it (issue 14 item 3): dates in the job's zone without a
made-up time, the customer filled from the invoice read, a Summary where no number runs into
text, page headers and footers, and row sheets that print legibly."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_report import column, raw, row, sample

from batchpay.api import run_and_report
from batchpay.records import Outcome
from batchpay.report import write_report
from batchpay.run import RunOptions
from batchpay.sandbox import SandboxStore, load_seed_file
from batchpay.target import sandbox_target

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "samples" / "sandbox-seed.yaml"
BANK_JOB = REPO / "samples" / "bank-deposits" / "job.yaml"
BANK_CSV = REPO / "samples" / "bank-deposits" / "deposits.csv"

SINGAPORE_JOB = """\
name: singapore
schema: bank_deposit
input: {format: csv}
fields:
  invoice_id: {column: Invoice}
  amount: {type: money, column: Amount, currency_field: currency}
  currency: {column: Currency}
  date: {type: date, column: Date, formats: ["%d/%m/%Y %H:%M", "%d/%m/%Y"],
         timezone: Asia/Singapore, time_of_day: "12:00"}
  reference: {column: Ref}
action:
  type: record_payment
  params: {invoice_id: invoice_id, amount: amount, payment_method: {const: bank_transfer},
           reference_number: reference, date: date}
  business_key: [reference]
"""


def records(ws: Any) -> list[dict[str, Any]]:
    rows = list(ws.iter_rows())
    header = [c.value for c in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def offline_dry_run(tmp_path: Path, job: Path, data: Path) -> Any:
    options = RunOptions(mode="dry-run", offline=True, journal_path=tmp_path / "j.sqlite")
    report = run_and_report(job, data, options, report_path=tmp_path / "r.xlsx")
    return openpyxl.load_workbook(report.path)


def test_dates_in_the_jobs_zone_with_a_time_only_when_the_file_had_one(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(SINGAPORE_JOB)
    data = tmp_path / "in.csv"
    data.write_text("Date,Invoice,Amount,Currency,Ref\n"
                    "18/04/2018,INV-1,10.00,USD,A\n"  # date only: 12:00 is batchpay's, not shown
                    "18/04/2018 07:30,INV-2,10.00,USD,B\n")  # 07:30 in Singapore
    rows = records(offline_dry_run(tmp_path, job, data)["Would post"])
    first, second = rows[0]["Date"], rows[1]["Date"]
    assert (first.value, first.number_format) == (datetime(2018, 4, 18), "yyyy-mm-dd")
    assert (second.value, second.number_format) == (datetime(2018, 4, 18, 7, 30),
                                                    "yyyy-mm-dd hh:mm:ss")


def test_customer_id_comes_from_the_invoice_read(tmp_path: Path) -> None:
    store = SandboxStore(tmp_path / "sb.sqlite")
    store.load_seed(load_seed_file(SEED))
    options = RunOptions(mode="dry-run", target=sandbox_target(store),
                         journal_path=tmp_path / "j.sqlite")
    report = run_and_report(BANK_JOB, BANK_CSV, options, report_path=tmp_path / "r.xlsx")
    assert report.path is not None
    rows = records(openpyxl.load_workbook(report.path)["Would post"])
    customers = {r["Invoice id"].value: r["Customer id"].value for r in rows}
    assert customers["INV-1001"] == "cust_acme" and customers["INV-1009"] == "cust_umbrella"
    offline = records(offline_dry_run(tmp_path / "off", BANK_JOB, BANK_CSV)["Would post"])
    assert {r["Customer id"].value for r in offline} == {None}  # nothing read, nothing made up


@pytest.fixture(scope="module")
def execute_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    path = write_report(sample("execute"), tmp_path_factory.mktemp("x") / "report.xlsx")
    return openpyxl.load_workbook(path), path


def test_summary_numbers_never_touch_the_text_beside_them(execute_book: tuple[Any, Path]) -> None:
    summary = execute_book[0]["Summary"]
    rows = {r[0].value: r for r in summary.iter_rows() if r[0].value}
    assert rows["Rows read"][1].alignment.horizontal == "left"
    checks = [r[-1] for r in summary.iter_rows() if r[-1].value in ("OK", "MISMATCH")]
    assert checks and all(c.alignment.horizontal == "center" for c in checks)
    guide = [r for r in summary.iter_rows() if r[0].value == "Posted"]
    assert guide[-1][1].alignment.horizontal == "left"
    assert "((" not in " ".join(str(c.value) for r in summary.iter_rows() for c in r if c.value)


def test_group_table_headers_fit_their_columns(execute_book: tuple[Any, Path]) -> None:
    summary = execute_book[0]["Summary"]
    for line in summary.iter_rows():
        if line[0].value == "Currency" and line[1].value in ("Payment method", "Action"):
            for cell in line:
                if cell.value:
                    width = column(summary, cell.column_letter).width
                    assert len(cell.value) * 1.1 <= width, (cell.value, width)


def test_every_sheet_prints_with_header_footer_and_page_numbers(
    execute_book: tuple[Any, Path],
) -> None:
    book, _ = execute_book
    for ws in book.worksheets:
        assert ws.oddHeader.left.text == "batchpay: bank deposits (execute)"
        assert ws.oddHeader.right.text == "&A"
        assert ws.oddFooter.left.text == "Run started 2024-05-03 09:30 UTC+02:00"
        assert ws.oddFooter.right.text == "Page &P of &N"
        assert ws.page_setup.orientation == "landscape"


def test_the_group_tables_start_a_printed_page(execute_book: tuple[Any, Path]) -> None:
    summary = execute_book[0]["Summary"]
    title = next(c.row for c in summary["A"] if c.value == "Totals by payment method")
    assert [b.id for b in summary.row_breaks.brk] == [title - 1]


def test_row_sheets_technical_columns_right_grouped_and_not_printed(
    execute_book: tuple[Any, Path],
) -> None:
    ws = execute_book[0]["Posted"]
    header = [c.value for c in ws[1]]
    technical = ["Business key", "Idempotency key", "Idempotent replay"]
    assert header[-3:] == technical
    letters = [ws.cell(1, header.index(name) + 1).column_letter for name in technical]
    assert all(column(ws, x).outline_level == 1 for x in letters)
    assert column(ws, "A").outline_level == 0
    last_printed = ws.cell(1, len(header) - 3).column_letter
    assert ws.print_area == f"'Posted'!$A$1:${last_printed}${ws.max_row}"
    assert ws.print_title_rows == "$1:$1" and ws.freeze_panes == "A2"
    assert ws.page_setup.fitToWidth >= 2 and ws.print_title_cols == "$A:$A"  # wide: 2 pages


def test_a_narrow_sheet_fits_one_page_wide(execute_book: tuple[Any, Path]) -> None:
    ws = execute_book[0]["Invalid rows"]
    setup = ws.page_setup  # fitToWidth left out means 1, the schema's default (XlsxWriter)
    assert (setup.fitToWidth or 1) == 1 and setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_cols is None


def test_text_cells_are_indented_clear_of_the_number_before(
    execute_book: tuple[Any, Path],
) -> None:
    first = records(execute_book[0]["Posted"])[0]
    assert first["Invoice id"].alignment.indent == 1
    assert first["Row"].alignment.indent == 0


def test_no_formula_element_anywhere(execute_book: tuple[Any, Path]) -> None:
    with zipfile.ZipFile(execute_book[1]) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in archive.read(n) for n in sheets)


def test_text_on_purpose_is_not_flagged_as_a_number_stored_as_text(
    execute_book: tuple[Any, Path],
) -> None:
    """The input's own text ("00012") stays text beside the parsed values, unflagged."""
    book, path = execute_book
    posted = records(book["Posted"])[0]
    assert (posted["Invoice"].value, posted["Invoice"].data_type) == ("00012", "s")
    flag = b'<ignoredErrors><ignoredError sqref="A1:XFD1048576" numberStoredAsText="1"/>'
    with zipfile.ZipFile(path) as archive:
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        assert [flag in archive.read(n) for n in sheets] == [False] + [True] * (len(sheets) - 1)


def test_a_long_reason_wraps_in_a_row_tall_enough(tmp_path: Path) -> None:
    base = sample("dry-run")
    long = "the invoice was voided by the finance team last week " * 4  # ~210 characters
    rows = [replace(o, reason=long) if o.origin.row == 5 else o for o in base.outcomes]
    path = write_report(replace(base, outcomes=rows), tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(path)["Skipped"]
    reason = next(r["Reason"] for r in records(ws) if r["Row"].value == 5)
    assert reason.alignment.wrap_text and reason.alignment.vertical == "top"
    width = column(ws, reason.column_letter).width
    assert width <= 60
    lines = ws.row_dimensions[reason.row].height / 15
    assert lines >= len(long) / width  # every line of the wrapped text shows
    tall = [n for n, dims in ws.row_dimensions.items() if dims.height]
    assert tall == [reason.row]  # the others, the widest included, keep the default height


def test_text_as_wide_as_its_column_keeps_one_line(execute_book: tuple[Any, Path]) -> None:
    """The widest sampled reason sized its column: no row is made taller for it."""
    for title in ("Skipped", "Errors", "Posted"):
        ws = execute_book[0][title]
        assert [n for n, dims in ws.row_dimensions.items() if dims.height] == [], title


def test_summary_keeps_money_out_apart_from_the_deposits(tmp_path: Path) -> None:
    """GBP read was 1,955.92 = 2,000 + 1.12 - 45.20: the debit is now its own line."""
    base = sample("dry-run")
    rows = [
        row(2, Outcome.WOULD_POST, raw("INV-1", "2,000.00", "GBP"), amount_minor=200000),
        row(3, Outcome.SKIPPED, raw("", "-45.20", "GBP"), amount_minor=-4520,
            reason="outgoing payment, not a deposit"),
        row(4, Outcome.SKIPPED, raw("", "1.12", "GBP"), amount_minor=112,
            reason="no invoice number in the description"),
    ]
    result = replace(base, outcomes=rows, info=replace(base.info, rows_read=3))
    ws = openpyxl.load_workbook(write_report(result, tmp_path / "r.xlsx"))["Summary"]
    table = {(r[0].value, r[1].value): [c.value for c in r[2:9]] for r in ws.iter_rows()
             if r[0].value == "GBP"}
    assert table.pop(("GBP", "bank_transfer"))[:4] == [2, 2001.12, 1, 2000]  # money in
    assert table.pop(("GBP", "record_payment"))[:4] == [2, 2001.12, 1, 2000]
    assert table == {
        ("GBP", "rows"): [2, 1, 1, 0, 0, 0, "OK"],
        ("GBP", "amount"): [2001.12, 2000, 1.12, 0, 0, 0, "OK"],
        ("GBP", "money out: rows"): [1, 0, 1, 0, 0, 0, "OK"],
        ("GBP", "money out: amount"): [-45.2, 0, -45.2, 0, 0, 0, "OK"],
    }


def test_an_ampersand_in_the_job_name_keeps_the_page_header(tmp_path: Path) -> None:
    """"&" starts a code in a page header; XlsxWriter takes "&G" for an image place and drops a
    header whose image it lacks, so that "&" is shown as a full-width ampersand."""
    path = write_report(sample("execute", job_name="R&D &G"), tmp_path / "r.xlsx")
    for ws in openpyxl.load_workbook(path).worksheets:
        assert ws.oddHeader.left.text == "batchpay: R&&D \uff06G (execute)"  # && shows one &
        assert ws.oddFooter.right.text == "Page &P of &N"
