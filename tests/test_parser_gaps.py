"""Issue 15 section 3: gaps real exports hit (sign flags, unnamed columns, ...), each driven
through the real reader and field derivation with a small generated file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from batchpay.cli import main
from batchpay.errors import InputError, SpecError
from batchpay.prepare import PreparedInput, prepare
from batchpay.spec import parse_spec


def prepared(tmp_path: Path, text: str, spec: str) -> PreparedInput:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(spec)
    return prepare(parse_spec(data), path, tmp_path)


JOB = """
name: t
fields:
  amount:
    type: money
    column: Amount
    sign_column: {flag}
    currency: EUR
    negate: {negate}
    debit_values: {debits}
  ref: {{column: {ref}}}
action:
  type: record_payment
  params: {{invoice_id: ref, amount: amount, payment_method: {{const: cash}}}}
"""


def test_negate_with_a_sign_column_flips_debits_and_credits_alike(tmp_path: Path) -> None:
    text = "Amount,Flag,Ref\n100.00,C,a\n50.00,D,b\n"
    plain = prepared(tmp_path, text, JOB.format(flag="Flag", negate="false", debits='["D"]',
                                                 ref="Ref"))  # fmt: skip
    flipped = prepared(tmp_path, text, JOB.format(flag="Flag", negate="true", debits='["D"]',
                                                   ref="Ref"))  # fmt: skip
    assert plain.parsed.values["amount"] == [10000, -5000]
    assert flipped.parsed.values["amount"] == [-10000, 5000]


def test_an_empty_flag_listed_in_debit_values_and_an_unnamed_header_column(
    tmp_path: Path,
) -> None:
    # The flag column has no header name: it is "Column 2", by its position.
    text = "Amount,,Ref\n100.00,,a\n50.00,C,b\n"
    result = prepared(tmp_path, text, JOB.format(flag="Column 2", negate="false",
                                                 debits='["D", ""]', ref="Ref"))  # fmt: skip
    assert result.parsed.values["amount"] == [-10000, 5000]
    assert result.outcomes == {}


DEPOSITS = """
name: t
input: {quoting: %s}
fields:
  payer: {column: Payer}
  amount: {type: money, column: Amount, currency: EUR}
  ref: {column: Ref}
action:
  type: record_payment
  params: {invoice_id: ref, amount: amount, payment_method: {const: cash}}
"""
BARE_QUOTES = (
    'Payer,Amount,Ref\n'
    '"UAB "Naktida"",10.00,INV-1\n'
    '"a ""quoted"" word",5.00,INV-2\n'
    '"two\nlines, one field",1.00,INV-3\n'
    '"Acme "The Best" Ltd",2.00,INV-4\n'
)


def test_strict_quoting_refuses_a_bare_quote(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"in\.csv: line 2: "):
        prepared(tmp_path, BARE_QUOTES, DEPOSITS % "strict")


def test_lenient_quoting_reads_bare_quotes_as_text_and_names_the_lines(tmp_path: Path) -> None:
    result = prepared(tmp_path, BARE_QUOTES, DEPOSITS % "lenient")
    assert result.parsed.values["payer"] == [
        'UAB "Naktida"', 'a "quoted" word', "two\nlines, one field", 'Acme "The Best" Ltd',
    ]  # fmt: skip
    assert result.parsed.values["amount"] == [1000, 500, 100, 200]
    assert [row.origin.row for row in result.valid] == [2, 3, 4, 6]
    notes = result.table.dropped_notes()
    assert notes == [
        'line 2: a quote inside a quoted field was read as text (input.quoting: lenient): '
        '""UAB "Naktida"",10.00,INV-1"',
        'line 6: a quote inside a quoted field was read as text (input.quoting: lenient): '
        '""Acme "The Best" Ltd",2.00,INV-4"',
    ]


def test_lenient_quoting_still_refuses_a_quote_never_closed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"line 2: a quoted field is never closed"):
        prepared(tmp_path, 'Payer,Amount,Ref\n"open,1.00,INV-1\n', DEPOSITS % "lenient")


CONTINUED = """
name: t
input: {continuation_when_empty: %s}
fields:
  date: {type: date, column: Date, formats: ["%%Y-%%m-%%d"]}
  amount: {type: money, column: Amount, currency: EUR}
  ref: {column: Description, regex: 'INV-\\d+'}
action:
  type: record_payment
  params: {invoice_id: ref, amount: amount, payment_method: {const: cash}, date: date}
"""
TWO_LINE_ROWS = (
    "Date,Description,Amount\n"
    "2024-01-02,Payment from ACME,10.00\n"
    ",ref INV-77,\n"
    "2024-01-03,Other INV-78,5.00\n"
)


def test_a_row_continued_on_the_next_line_is_read_whole(tmp_path: Path) -> None:
    result = prepared(tmp_path, TWO_LINE_ROWS, CONTINUED % "Date")
    assert [(r.origin.row, r.fields["ref"], r.fields["amount"]) for r in result.valid] == [
        (2, "INV-77", 1000), (4, "INV-78", 500),
    ]  # fmt: skip
    assert result.table.frame["Description"].tolist() == ["Payment from ACME ref INV-77",
                                                          "Other INV-78"]  # fmt: skip
    assert result.table.dropped_notes() == [
        'line 3 appended to line 2 (its "Date" is empty: input.continuation_when_empty)'
    ]


def test_without_the_rule_the_continuation_is_its_own_invalid_row(tmp_path: Path) -> None:
    spec = CONTINUED.replace("input: {continuation_when_empty: %s}\n", "")
    result = prepared(tmp_path, TWO_LINE_ROWS, spec)
    assert result.rows_read == 3
    assert [r.origin.row for r in result.valid] == [4]  # line 2 has no INV, line 3 no date


def test_continuation_column_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r'input\.continuation_when_empty: no column "Datum"'):
        prepared(tmp_path, TWO_LINE_ROWS, CONTINUED % "Datum")


def test_a_skipped_row_shows_what_it_was_read_as_in_the_workbook(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(
        "Date,Description,Amount,Ref\n"
        "2024-01-02,Payment INV-1,10.00,TX1\n"
        "2024-01-03,Refund INV-2,-5.00,TX2\n"
    )
    (tmp_path / "job.yaml").write_text(
        "name: sk\n"
        "fields:\n"
        "  invoice_id: {column: Description, regex: 'INV-\\d+'}\n"
        "  amount: {type: money, column: Amount, currency: EUR}\n"
        '  date: {type: date, column: Date, formats: ["%Y-%m-%d"], timezone: Europe/Paris}\n'
        "  reference: {column: Ref}\n"
        "filters:\n"
        "  - {field: amount, le: 0, reason: money out}\n"
        "action:\n"
        "  type: record_payment\n"
        "  params: {invoice_id: invoice_id, amount: amount, date: date,\n"
        "           payment_method: {const: bank_transfer}, reference_number: reference}\n"
        "  business_key: [reference]\n"
    )
    report = tmp_path / "report.xlsx"
    args = ["validate", str(tmp_path / "job.yaml"), str(tmp_path / "in.csv"),
            "--report", str(report), "--journal", str(tmp_path / "j.sqlite")]  # fmt: skip
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    sheet = load_workbook(report)["Skipped"]
    header, row = list(sheet.iter_rows(values_only=True))
    shown = dict(zip(header, row, strict=True))
    assert shown["Row"] == 3 and shown["Reason"] == "money out"
    assert shown["Invoice id"] == "INV-2"
    assert shown["Date"] == datetime(2024, 1, 3)
    assert shown["Payment method"] == "bank_transfer"
    assert shown["Business key"] == '{"reference":"TX2"}'
    assert shown["Action"] is None  # nothing was planned for it


LITAS = """
name: litas
%s
fields:
  amount: {type: money, column: Suma, decimal: ",", currency_field: currency}
  currency: {column: Valiuta}
  ref: {column: Ref}
action:
  type: record_payment
  params: {invoice_id: ref, amount: amount, payment_method: {const: bank_transfer}}
"""
LITAS_CSV = "Suma,Valiuta,Ref\n\"1234,56\",LTL,INV-1\n\"10,00\",EUR,INV-2\n"


def test_a_historic_currency_declared_in_the_job_is_read_exactly(tmp_path: Path) -> None:
    result = prepared(tmp_path, LITAS_CSV, LITAS % "currencies: {LTL: 2}")
    assert result.parsed.values["amount"] == [123456, 1000]
    assert [r.currencies["amount"] for r in result.valid] == ["LTL", "EUR"]
    assert result.outcomes == {}


def test_an_undeclared_historic_currency_is_refused_on_its_row(tmp_path: Path) -> None:
    result = prepared(tmp_path, LITAS_CSV.replace("LTL", "LVL"), LITAS % "")
    assert [r.origin.row for r in result.valid] == [3]
    (invalid,) = result.outcomes.values()
    assert "'LVL' is not an ISO 4217 currency code" in invalid.reason


def test_a_declared_currency_cannot_change_an_iso_exponent() -> None:
    with pytest.raises(SpecError, match=r"currencies: JPY: ISO 4217 gives it 0 decimals, not 2"):
        parse_spec(yaml.safe_load(LITAS % "currencies: {JPY: 2}"))
