"""The seven real exports in ../shared/real-inputs, read with a spec each; values read by eye.

The files are never copied into this repository: these tests skip when the folder is absent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from batchpay.dates import DateError, parse_date
from batchpay.money import parse_amount, to_minor_units
from batchpay.read import Table, read_table
from batchpay.spec import InputSpec

REAL_INPUTS = Path(__file__).resolve().parents[1].parent / "shared" / "real-inputs"


def real(name: str) -> Path:
    path = REAL_INPUTS / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def cell(table: Table, line: int, column: str) -> str:
    value = table.frame.at[line, column]
    assert isinstance(value, str)
    return value


def unix(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp())  # test oracle only


def test_lloyds() -> None:
    table = read_table(real("lloyds-uk__sample-statement.csv"), InputSpec())
    # The header ends with ",": 9 fields, 8 columns; data rows have 8.
    assert table.columns == (
        "Transaction Date", "Transaction Type", "Sort Code", "Account Number",
        "Transaction Description", "Debit Amount", "Credit Amount", "Balance",
    )  # fmt: skip
    assert list(table.frame.index) == list(range(2, 14))
    assert cell(table, 2, "Transaction Date") == "15/01/2024"
    assert cell(table, 2, "Sort Code") == "'99-88-74"
    assert cell(table, 2, "Debit Amount") == "8.99"
    assert cell(table, 2, "Credit Amount") == ""
    assert cell(table, 5, "Transaction Type") == "FPI"
    assert to_minor_units(parse_amount(cell(table, 5, "Credit Amount")), "GBP") == 200000
    assert cell(table, 13, "Transaction Description").startswith("CLIENT CO LTD 400000005566778899")
    assert to_minor_units(parse_amount(cell(table, 13, "Credit Amount")), "GBP") == 50000
    when = cell(table, 5, "Transaction Date")
    assert parse_date(when, ["%d/%m/%Y"], timezone="Europe/London") == unix(2023, 12, 1)


def test_lloyds_with_the_wrong_date_order_fails_loudly() -> None:
    table = read_table(real("lloyds-uk__sample-statement.csv"), InputSpec())
    with pytest.raises(DateError) as caught:
        for text in table.frame["Transaction Date"]:
            parse_date(text, ["%m/%d/%Y"])
    assert caught.value.expected == "MM/DD/YYYY; 15 cannot be a month — is the file DD/MM/YYYY?"


def test_schwab() -> None:
    spec = InputSpec(skip_lines=1, drop_rows_matching=r"^(Pending|Posted) Transactions")
    table = read_table(
        real("schwab-us__EAC_Checking_Transactions_20201223-160009.CSV"),
        spec,
        required_columns=["Date", "Check #", "Withdrawal (-)", "Deposit (+)"],
    )
    assert table.columns == (
        "Date", "Type", "Check #", "Description", "Withdrawal (-)", "Deposit (+)", "RunningBalance",
    )  # fmt: skip
    assert list(table.frame.index) == list(range(5, 17))  # lines 3-4 are marker rows
    assert cell(table, 5, "Date") == "07/30/2021"
    assert cell(table, 5, "RunningBalance") == "$20,053.01"
    assert cell(table, 12, "RunningBalance") == "$1133.94"
    assert cell(table, 15, "Type") == "CHECK"
    assert cell(table, 15, "Check #") == "1002"
    assert cell(table, 15, "Withdrawal (-)") == "$1,234.11"
    assert cell(table, 16, "Description") == "Deposit Mobile Banking"

    def total(column: str) -> int:
        texts = [t for t in table.frame[column] if t]
        return sum(to_minor_units(parse_amount(t, thousands=","), "USD") for t in texts)

    assert total("Deposit (+)") == 3423921
    assert total("Withdrawal (-)") == 1175804
    assert parse_date(cell(table, 5, "Date"), ["%m/%d/%Y"], timezone="America/New_York") == (
        unix(2021, 7, 30, 4)
    )


def test_op() -> None:
    table = read_table(real("op-fi__csv-test.csv"), InputSpec(encoding="latin-1", delimiter=";"))
    # Every line ends with ";": the 11th, empty column is dropped. The trailing blank line too.
    assert table.columns == (
        "Kirjauspäivä", "Arvopäivä", "Määrä EUROA", "Tapahtumalajikoodi", "Selitys",
        "Saaja/Maksaja", "Saajan tilinumero", "Viite", "Viesti", "Arkistotunnus",
    )  # fmt: skip
    assert list(table.frame.index) == list(range(2, 9))
    assert cell(table, 2, "Saaja/Maksaja") == "MATTI MEIKÄLÄINEN"
    message = cell(table, 2, "Viesti")  # space-padded, kept as is
    assert message.endswith("   ") and message.rstrip().endswith("HALKO 3/2008.")
    assert cell(table, 4, "Viite") == "00000000000007009017"
    assert cell(table, 4, "Tapahtumalajikoodi") == "588"
    assert cell(table, 4, "Arkistotunnus") == "200901252588NGNO0290"
    assert cell(table, 7, "Viite") == "00000000000001110012"
    assert parse_amount(cell(table, 5, "Määrä EUROA"), decimal=",") == Decimal("-1063.35")
    assert parse_date(cell(table, 5, "Kirjauspäivä"), ["%d.%m.%Y"], timezone="Europe/Helsinki") == (
        unix(2010, 1, 20, 22)
    )


def test_easybank() -> None:
    columns = ["IBAN", "Text", "Booking date", "Value date", "Amount", "Currency"]
    spec = InputSpec(encoding="latin-1", delimiter=";", header=False, columns=columns)
    table = read_table(real("easybank-at__easybank-giro.csv"), spec)
    assert table.columns == tuple(columns)
    assert list(table.frame.index) == list(range(1, 11))  # CRLF lines, no header
    assert cell(table, 4, "Text").startswith("Abbuchung Einzugsermächtigung")
    assert cell(table, 5, "Amount") == "-1.001,00"
    assert cell(table, 5, "Booking date") == "19.01.2014"
    assert cell(table, 9, "Text").startswith("Gutschrift Überweisung")
    assert cell(table, 9, "Amount") == "+12,10"
    assert "/INV/123456790 1.10.2015" in cell(table, 10, "Text")
    assert not any("\r" in text for text in table.frame["Currency"])
    amounts = [parse_amount(t, decimal=",", thousands=".") for t in table.frame["Amount"]]
    assert amounts[4] == Decimal("-1001.00")
    assert sum(to_minor_units(a, "EUR") for a in amounts) == -42 + 123 - 12345 - 3200 - 100100 - (
        40000 + 2090 + 840
    ) + 1210 + 998


@pytest.mark.parametrize("options", [{"skip_lines": 6}, {"skip_lines": 5, "sheet": "Movimenti"}])
def test_fineco(options: dict[str, object]) -> None:
    table = read_table(real("fineco-it__movements.xlsx"), InputSpec(**options))  # type: ignore[arg-type]
    assert (table.format, table.sheet) == ("xlsx", "Movimenti")
    assert table.columns == (
        "Data", "Entrate", "Uscite", "Descrizione", "Descrizione_Completa", "Stato",
    )  # fmt: skip
    assert list(table.frame.index) == [8, 9]  # the header is on row 7
    assert str(table.origin(8)) == 'sheet "Movimenti" row 8'
    assert cell(table, 8, "Data") == "31/12/2024"
    assert cell(table, 8, "Uscite") == "-9.99"
    assert cell(table, 8, "Entrate") == ""
    assert cell(table, 8, "Stato") == "Autorizzato"
    assert cell(table, 9, "Entrate") == "150.62"
    assert cell(table, 9, "Stato") == "Contabilizzato"
    assert to_minor_units(parse_amount(cell(table, 8, "Uscite")), "EUR") == -999


def test_paypal() -> None:
    table = read_table(real("paypal-us__paypal-custom.csv"), InputSpec())
    assert len(table.columns) == 19
    assert list(table.frame.index) == list(range(2, 9))
    assert cell(table, 3, "Type") == "Bank Deposit to PP Account "  # trailing space kept
    assert cell(table, 3, "Reference Txn ID") == "06P57143A2806728E"
    assert cell(table, 2, "Item Title").startswith("MONTHLY - $1 for the first 2 Months: Me -")
    assert cell(table, 8, "Transaction ID") == "68LL1662YP3134303"
    assert [cell(table, 8, c) for c in ("Gross", "Fee", "Net")] == ["10.00", "-0.59", "9.41"]
    when = f"{cell(table, 8, 'Date')} {cell(table, 8, 'Time')}"
    assert parse_date(when, ["%m/%d/%Y %H:%M:%S"], timezone="America/Los_Angeles") == (
        unix(2019, 10, 22, 12, 7, 6)
    )


def test_gnucash() -> None:
    columns = [f"col{n}" for n in range(1, 23)]
    table = read_table(
        real("gnucash-bill-import__invoice.csv"), InputSpec(header=False, columns=columns)
    )
    assert list(table.frame.index) == list(range(1, 13))
    assert set(table.frame["col1"]) == {"MEC-0072"}
    assert set(table.frame["col3"]) == {"000013"}
    assert cell(table, 1, "col7") == "34-0655 > PROTOBLOC 2 BREADBOARD"
    assert cell(table, 2, "col10") == "10"
    assert cell(table, 2, "col11") == "0.06"
    assert [cell(table, 12, c) for c in ("col7", "col8", "col9", "col11")] == [
        "VAT", "tax", "Expenses:VAT", "4.35",
    ]  # fmt: skip
    lines = zip(table.frame["col10"], table.frame["col11"], strict=True)
    assert sum(Decimal(qty) * parse_amount(price) for qty, price in lines) == Decimal("35.56")
