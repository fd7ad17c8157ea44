"""Regenerate the spreadsheet samples: ``python samples/make_samples.py``.

The XLSX files are committed; this script is how they were made, so they can be rebuilt and
reviewed as text. Cells are typed the way a person's spreadsheet types them: real dates and
numbers, plus a few quirks (a date typed as text, cheque numbers with leading zeros kept as
text, a title row and a totals row).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
FIXED_TIME = datetime(2026, 12, 1, 9, 0, 0)  # stamped into the files so rebuilds are identical
STAMP = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()

CHEQUE_HEADER = ["Deposit Date", "Cheque No.", "Drawer", "Invoice #", "Amount", "Currency",
                 "Status", "Notes"]
CHEQUES: list[list[object]] = [
    [date(2026, 11, 2), "000123", "ACME Inc", "INV-2101", 500, "USD", "Cleared", ""],
    [date(2026, 11, 3), "000124", "Initech Ltd", "INV-2102", 200, "GBP", "Cleared",
     "part payment"],
    [date(2026, 11, 3), "004417", "Globex GmbH", "INV-2103", 150.0, "EUR", "Cleared", ""],
    [date(2026, 11, 4), "000125", "ACME Inc", "INV-2104", 99, "USD", "Bounced",
     "returned unpaid 2026-11-09"],
    ["05/11/2026", "000126", "Initech Ltd", "INV-2105", 120, "GBP", "Cleared",
     "date typed as text"],
    [date(2026, 11, 6), "000123", "ACME Inc", "INV-2101", 500, "USD", "Cleared",
     "entered twice by mistake"],
]


def _book() -> Workbook:
    book = Workbook()
    book.properties.creator = "batchpay samples"
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    return book


def _save(book: Workbook, path: Path) -> None:
    """Save with fixed zip entry times, so a rebuild is byte-for-byte the committed file."""
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(
        path, "w", zipfile.ZIP_DEFLATED
    ) as target:
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps "modified" on save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + STAMP, data)
            target.writestr(entry, data)


def cheque_log(path: Path) -> None:
    book = _book()
    sheet = book.active
    assert sheet is not None
    sheet.title = "November"
    sheet.append(["Cheque deposit log - Initech/ACME lockbox - November 2026"])
    sheet.append(CHEQUE_HEADER)
    for row in CHEQUES:
        sheet.append(row)
        cell = sheet.cell(sheet.max_row, 1)
        if isinstance(cell.value, datetime | date):
            cell.number_format = "dd/mm/yyyy"
        sheet.cell(sheet.max_row, 5).number_format = "#,##0.00"
    sheet.append(["Total", None, None, None, sum(Decimal(str(r[4])) for r in CHEQUES)])
    _save(book, path)


def bank_deposits_xlsx(source: Path, path: Path) -> None:
    """The CSV statement as the bank's XLSX export: real dates and numbers, same rows."""
    with source.open(encoding="utf-8", newline="") as handle:
        title = handle.readline().strip()
        rows = list(csv.DictReader(handle))
    book = _book()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Statement"
    sheet.append([title])
    sheet.append(["Date", "Reference ID", "Description", "Paid In", "Paid Out", "Currency"])
    for row in rows:
        day, month, year = (int(p) for p in row["Date"].split("/"))
        sheet.append([
            date(year, month, day), row["Reference ID"], row["Description"],
            _number(row["Paid In"]), _number(row["Paid Out"]), row["Currency"],
        ])
        sheet.cell(sheet.max_row, 1).number_format = "dd/mm/yyyy"
    _save(book, path)


def _number(text: str) -> float | int | None:
    text = text.replace(",", "")
    if not text:
        return None
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def main() -> None:
    cheque_log(HERE / "cheque-log" / "cheques.xlsx")
    bank_deposits_xlsx(HERE / "bank-deposits" / "deposits.csv",
                       HERE / "bank-deposits" / "deposits.xlsx")


if __name__ == "__main__":
    main()
