"""Deriving business fields from a table of text: one behaviour per test, tiny tables."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from batchpay.errors import SpecError
from batchpay.fields import ParsedFields, derive_fields, used_columns
from batchpay.records import Origin
from batchpay.spec import JobSpec, parse_spec


def job(fields: dict[str, Any]) -> JobSpec:
    fields = {"invoice_id": {"const": "inv_1"}, **fields}
    action = {"type": "close_invoice", "params": {"invoice_id": "invoice_id"}}
    return parse_spec({"name": "t", "fields": fields, "action": action})


def derive(fields: dict[str, Any], rows: list[dict[str, str]]) -> ParsedFields:
    """Rows as CSV lines 2, 3, ... (line 1 is the header)."""
    frame = pd.DataFrame(rows, dtype=object, index=pd.Index(range(2, 2 + len(rows))))
    return derive_fields(job(fields), frame, lambda position: Origin(position + 2))


def values(field: dict[str, Any], *texts: str, column: str = "A") -> list[object]:
    parsed = derive({"f": field}, [{column: text} for text in texts])
    return parsed.values["f"]


def failures(field: dict[str, Any], *texts: str, column: str = "A") -> list[str]:
    parsed = derive({"f": field}, [{column: text} for text in texts])
    return [str(f) for position in sorted(parsed.failures) for f in parsed.failures[position]]


# ------------------------------------------------------------------------------------ sources


def test_column_is_trimmed_text() -> None:
    assert values({"column": "A"}, "  00123 ", "x") == ["00123", "x"]


def test_columns_first_non_empty_wins() -> None:
    parsed = derive(
        {"f": {"columns": ["A", "B"]}},
        [{"A": "a1", "B": "b1"}, {"A": " ", "B": "b2"}],
    )
    assert parsed.values["f"] == ["a1", "b2"]


def test_const() -> None:
    assert values({"const": "bank_transfer"}, "anything", "") == ["bank_transfer"] * 2


def test_template() -> None:
    parsed = derive(
        {"f": {"template": "{Check #}-{Account}"}},
        [{"Check #": " 1002", "Account": "EAC "}],
    )
    assert parsed.values["f"] == ["1002-EAC"]


def test_regex_group_one_named_value_and_whole_match() -> None:
    assert values({"column": "A", "regex": r"INV-(\d+)"}, "PAY INV-1001 THX") == ["1001"]
    named = {"column": "A", "regex": r"(REF|INV)[: ]*(?P<value>\d+)"}
    assert values(named, "REF : 998877") == ["998877"]
    assert values({"column": "A", "regex": r"INV-\d+"}, "x INV-7 y") == ["INV-7"]


def test_regex_without_a_match_says_so_and_fails_when_required() -> None:
    """Issue 13 item 10: a non-match is not '"" is empty'; the text searched is shown."""
    assert failures({"column": "A", "regex": r"INV-(\d+)"}, "CARD PAYMENT") == [
        r'line 2, column "A": "CARD PAYMENT" does not match the regex of fields.f '
        r"(expected text matching /INV-(\d+)/)"
    ]
    assert failures({"column": "A", "regex": r"INV-(\d+)"}, "") == [
        r'line 2, column "A": "" is empty (expected text matching /INV-(\d+)/)'
    ]
    parsed = derive({"f": {"template": "{A} {B}", "regex": r"INV-(\d+)"}},
                    [{"A": "CARD", "B": "PAYMENT"}])
    assert [str(f) for f in parsed.failures[0]] == [
        r'line 2, column "A": "CARD PAYMENT" does not match the regex of fields.f '
        r"(expected text matching /INV-(\d+)/)"
    ]


def test_regex_runs_in_linear_time_on_catastrophic_patterns() -> None:
    """Issue 13 item 2: these take Python's backtracking re longer than the age of the universe;
    RE2 answers at once, and correctly."""
    long_word = "a" * 20_000
    assert values({"column": "A", "regex": r"^(\w+)*$"}, long_word, long_word + "!",
                  column="A")[0] == long_word
    (failure,) = failures({"column": "A", "regex": r"^(x+x+)+y$"}, "x" * 20_000)
    assert failure.startswith('line 2, column "A": "xxxxxxxxxx')
    assert failure.endswith('" does not match the regex of fields.f '
                            "(expected text matching /^(x+x+)+y$/)")
    matched = values({"column": "A", "regex": r"^(x+x+)+y$"}, "x" * 20_000 + "y")
    assert matched == ["x" * 20_000]  # group 1, as Python's re would keep it
    assert values({"column": "A", "regex": r"INV-(\d+)", "required": False}, "CARD") == [None]


def test_lookup_is_case_insensitive() -> None:
    field = {"column": "A", "lookup": {"CHECK": "check", "WIRE": "bank_transfer"}}
    assert values(field, "check", "WIRE ") == ["check", "bank_transfer"]


def test_lookup_default() -> None:
    field = {"column": "A", "lookup": {"CHECK": "check"}, "lookup_default": "other"}
    assert values(field, "ACH", "CHECK") == ["other", "check"]


def test_lookup_unknown_value_fails() -> None:
    field = {"column": "A", "lookup": {"CHECK": "check", "WIRE": "bank_transfer"}}
    assert failures(field, "ATM") == [
        """line 2, column "A": "ATM" is not in the lookup table (expected one of 'CHECK', 'WIRE')"""
    ]


def test_default_fills_empty_text() -> None:
    assert values({"column": "A", "default": "GBP"}, "", "EUR") == ["GBP", "EUR"]


def test_required_and_empty() -> None:
    assert failures({"column": "A"}, "", "x") == [
        'line 2, column "A": "" is empty (expected a value)'
    ]
    assert values({"column": "A", "required": False}, "") == [None]
    assert failures({"column": "A", "required": False}, "") == []


# -------------------------------------------------------------------------------------- money


def test_money_decimal_comma_thousands_dot_and_plus_sign() -> None:
    field = {"column": "A", "type": "money", "decimal": ",", "thousands": ".", "currency": "EUR"}
    assert values(field, "-1.001,00", "+12,10", "0,42") == [-100100, 1210, 42]


def test_money_symbol_and_optional_thousands() -> None:
    field = {"column": "A", "type": "money", "thousands": ",", "currency": "USD"}
    assert values(field, "$20,053.01", "$1133.94", "(5.00)") == [2005301, 113394, -500]


def test_money_not_an_amount() -> None:
    field = {"column": "A", "type": "money", "decimal": ",", "thousands": ".", "currency": "EUR"}
    assert failures(field, "12,3x") == [
        'line 2, column "A": "12,3x" is not an amount (expected decimal comma, e.g. 1.234,56)'
    ]


def test_money_more_decimals_than_the_currency_allows() -> None:
    assert failures({"column": "A", "type": "money", "currency": "JPY"}, "100.5") == [
        'line 2, column "A": "100.5" has 1 decimal; JPY allows 0 (expected whole JPY)'
    ]


def test_money_credit_and_debit_columns() -> None:
    field = {"type": "money", "credit_column": "In", "debit_column": "Out", "currency": "GBP"}
    parsed = derive(
        {"f": field},
        [
            {"In": "2000", "Out": ""},
            {"In": "", "Out": "8.99"},
            {"In": "", "Out": "-9.99"},  # Fineco: outgoing already negative
            {"In": "5.00", "Out": "0.00"},
            {"In": "", "Out": ""},
        ],
    )
    assert parsed.values["f"] == [200000, -899, -999, 500, None]
    assert [str(f) for f in parsed.failures[4]] == [
        'line 6, column "In": "" is empty (expected a value)'
    ]


def test_money_both_credit_and_debit_filled_fails() -> None:
    field = {"type": "money", "credit_column": "In", "debit_column": "Out", "currency": "GBP"}
    parsed = derive({"f": field}, [{"In": "1.00", "Out": "2.00"}])
    assert [str(f) for f in parsed.failures[0]] == [
        'line 2, column "In": "1.00 / 2.00" has both a credit and a debit amount '
        "(expected only one of the two columns filled)"
    ]


def test_money_bad_debit_shows_the_text_as_read() -> None:
    field = {"type": "money", "credit_column": "In", "debit_column": "Out", "currency": "GBP"}
    parsed = derive({"f": field}, [{"In": "", "Out": "8.9x"}])
    assert [str(f) for f in parsed.failures[0]] == [
        'line 2, column "Out": "8.9x" is not an amount (expected decimal point, e.g. 1234.56)'
    ]


def test_money_sign_column() -> None:
    field = {"column": "A", "type": "money", "currency": "EUR", "sign_column": "DC"}
    parsed = derive(
        {"f": field},
        [{"A": "10.00", "DC": "D"}, {"A": "10.00", "DC": "C"}, {"A": "3.00", "DC": "dr"}],
    )
    assert parsed.values["f"] == [-1000, 1000, -300]


def test_money_sign_column_flag_neither_debit_nor_credit_fails_the_row() -> None:
    field = {"column": "A", "type": "money", "currency": "EUR", "sign_column": "DC"}
    flags = ["Dr.", "Withdrawal", "", " h ", "+"]
    parsed = derive({"f": field}, [{"A": "10.00", "DC": flag} for flag in flags])
    assert parsed.values["f"] == [None, None, None, 1000, 1000]
    assert parsed.broken["f"] == {0, 1, 2}
    expected = "(expected one of D, DR, DEBIT, S, - (debit) or C, CR, CREDIT, H, + (credit))"
    assert [str(f) for position in sorted(parsed.failures) for f in parsed.failures[position]] == [
        f'line 2, column "DC": "Dr." is not a debit/credit flag {expected}',
        f'line 3, column "DC": "Withdrawal" is not a debit/credit flag {expected}',
        f'line 4, column "DC": "" is empty {expected}',
    ]


def test_money_sign_column_own_credit_values() -> None:
    field = {"column": "A", "type": "money", "currency": "EUR", "sign_column": "DC",
             "debit_values": ["Withdrawal"], "credit_values": ["Deposit"]}
    parsed = derive({"f": field}, [{"A": "10.00", "DC": "WITHDRAWAL"},
                                   {"A": "10.00", "DC": "deposit"}, {"A": "10.00", "DC": "C"}])
    assert parsed.values["f"] == [-1000, 1000, None]
    assert [f.problem for f in parsed.failures[2]] == ["is not a debit/credit flag"]


def test_money_negate() -> None:
    field = {"column": "A", "type": "money", "currency": "EUR", "negate": True}
    assert values(field, "-5.00", "7") == [500, -700]


def test_money_currency_field() -> None:
    parsed = derive(
        {
            "amount": {"column": "A", "type": "money", "currency_field": "currency"},
            "currency": {"column": "C"},
        },
        [{"A": "150000", "C": "jpy"}, {"A": "12.345", "C": "KWD"}, {"A": "1.00", "C": "XXX"}],
    )
    assert parsed.values["amount"] == [150000, 12345, None]
    assert parsed.currencies["amount"] == ["JPY", "KWD", "XXX"]
    assert [str(f) for f in parsed.failures[2]] == [
        """line 4, column "A": "1.00" has no valid currency ('XXX' is not an ISO 4217 """
        "currency code) (expected an ISO 4217 code such as EUR)"
    ]


def test_money_currency_written_in_the_cell_must_be_the_rows() -> None:
    parsed = derive(
        {
            "amount": {"column": "A", "type": "money", "currency_field": "currency"},
            "currency": {"column": "C"},
        },
        [{"A": "$100.00", "C": "EUR"}, {"A": "JPY 5000", "C": "USD"}, {"A": "$5", "C": "usd"}],
    )
    assert parsed.values["amount"] == [None, None, 500]
    assert [str(f) for position in (0, 1) for f in parsed.failures[position]] == [
        'line 2, column "A": "$100.00" says $; the row\'s currency is EUR '
        "(expected an amount in EUR)",
        'line 3, column "A": "JPY 5000" says JPY; the row\'s currency is USD '
        "(expected an amount in USD)",
    ]


def test_money_cents_and_a_fixed_currency_that_differs_fail() -> None:
    field = {"column": "A", "type": "money", "currency": "EUR"}
    assert [f.split(": ", 1)[1] for f in failures(field, "50¢", "£12.50", "€.50")] == [
        '"50¢" is in cents (¢) (expected the amount in EUR units, e.g. 0.50 for 50¢)',
        '"£12.50" says £; the row\'s currency is EUR (expected an amount in EUR)',
        '"€.50" is ambiguous: "." right after the currency sign '
        "(expected a digit before the decimal separator, e.g. 0.50)",
    ]


def test_money_quantity_column_multiplies_exactly() -> None:
    field = {"column": "Price", "type": "money", "currency": "GBP", "quantity_column": "Qty"}
    parsed = derive(
        {"f": field},
        [{"Price": "0.06", "Qty": "10"}, {"Price": "12.00", "Qty": "1.5"},
         {"Price": "0.125", "Qty": "4"}, {"Price": "4.35", "Qty": "-1"}],
    )
    assert parsed.values["f"] == [60, 1800, 50, -435]  # 0.125 x 4 = 0.500
    assert not parsed.failures


def test_money_quantity_product_with_too_many_decimals_is_not_rounded() -> None:
    field = {"column": "Price", "type": "money", "currency": "GBP", "quantity_column": "Qty"}
    parsed = derive({"f": field}, [{"Price": "1.995", "Qty": "3"}])
    assert parsed.values["f"] == [None]
    assert [str(f) for f in parsed.failures[0]] == [
        'line 2, column "Price": "1.995" times the quantity 3 is 5.985, which has 3 decimals; '
        "GBP allows 2 (expected at most 2 decimals)"
    ]


def test_money_bad_or_missing_quantity_points_at_the_quantity_column() -> None:
    field = {"column": "Price", "type": "money", "currency": "GBP", "quantity_column": "Qty"}
    quantities = ["two", "", "£3", "(2)", "3 DR", "9" * 31]
    parsed = derive({"f": field}, [{"Price": "1.00", "Qty": q} for q in quantities])
    assert parsed.values["f"] == [None] * 6
    expected = "(expected a number such as 3 or 1.5)"
    assert [str(f) for position in range(6) for f in parsed.failures[position]] == [
        f'line 2, column "Qty": "two" is not a quantity {expected}',
        f'line 3, column "Qty": "" is empty {expected}',
        f'line 4, column "Qty": "£3" is not a quantity {expected}',
        f'line 5, column "Qty": "(2)" is not a quantity {expected}',
        f'line 6, column "Qty": "3 DR" is not a quantity {expected}',
        f'line 7, column "Qty": "{"9" * 31}" has more than 30 digits {expected}',
    ]


def test_money_quantity_never_rounds_however_many_decimals() -> None:
    field = {"column": "Price", "type": "money", "currency": "GBP", "quantity_column": "Qty"}
    tiny = "1.00000000000000000000000000001"
    parsed = derive({"f": field}, [{"Price": "0.01", "Qty": tiny}])
    assert parsed.values["f"] == [None]
    assert [f.problem for f in parsed.failures[0]] == [
        f"times the quantity {tiny} is 0.0100000000000000000000000000001, which has 31 "
        "decimals; GBP allows 2"]


def test_money_quantity_with_decimal_comma_shown_as_typed() -> None:
    field = {"column": "Price", "type": "money", "currency": "EUR", "quantity_column": "Qty",
             "decimal": ",", "thousands": "."}
    parsed = derive({"f": field}, [{"Price": "1.000,00", "Qty": "1,5"},
                                   {"Price": "0,333", "Qty": "1,5"}])
    assert parsed.values["f"] == [150000, None]
    assert [f.problem for f in parsed.failures[1]] == [
        "times the quantity 1,5 is 0.4995, which has 4 decimals; EUR allows 2"]


def test_money_debit_times_a_negative_quantity_stays_a_debit() -> None:
    debit = {"type": "money", "credit_column": "In", "debit_column": "Out", "currency": "GBP",
             "quantity_column": "Qty"}
    flagged = {"type": "money", "column": "Out", "sign_column": "DC", "currency": "GBP",
               "quantity_column": "Qty"}
    rows = [{"In": "", "Out": "10.00", "DC": "DR", "Qty": "-2"},
            {"In": "10.00", "Out": "", "DC": "CR", "Qty": "2"}]
    assert derive({"f": debit}, rows).values["f"] == [-2000, 2000]
    rows[1]["Out"] = "10.00"
    assert derive({"f": flagged}, rows).values["f"] == [-2000, 2000]


def test_quantity_column_needs_a_money_field() -> None:
    with pytest.raises(SpecError, match="quantity_column needs type: money"):
        job({"f": {"column": "A", "quantity_column": "Q"}})


# -------------------------------------------------------------------------------------- dates


def test_date_formats_in_order_and_time_zone() -> None:
    field = {"column": "A", "type": "date", "formats": ["%d/%m/%Y", "%d.%m.%Y"],
             "timezone": "Europe/London", "time_of_day": "12:00"}  # fmt: skip
    # 2024-01-15 12:00 GMT; 2024-07-01 12:00 BST = 11:00 UTC
    assert values(field, "15/01/2024", "01.07.2024") == [1705320000, 1719831600]


def test_date_not_a_date() -> None:
    field = {"column": "A", "type": "date", "formats": ["%d/%m/%Y"]}
    assert failures(field, "31/02/2024") == [
        'line 2, column "A": "31/02/2024" is not a date: February 2024 has no day 31 '
        "(expected DD/MM/YYYY)"
    ]


def test_date_excel_serial() -> None:
    field = {"column": "A", "type": "date", "excel_serial": True, "formats": ["%d/%m/%Y"]}
    assert values(field, "45292", "01/01/2024") == [1704067200, 1704067200]
    without = {"column": "A", "type": "date", "formats": ["%d/%m/%Y"]}
    assert failures(without, "45292") == [
        'line 2, column "A": "45292" is not a date in format DD/MM/YYYY (expected DD/MM/YYYY '
        "(an Excel serial day number? set excel_serial: true))"
    ]


def test_date_unknown_time_zone_is_a_spec_error() -> None:
    field = {"column": "A", "type": "date", "formats": ["%Y-%m-%d"], "timezone": "Mars/Base"}
    with pytest.raises(SpecError, match="unknown time zone 'Mars/Base'"):
        job({"f": field})


def test_date_order_proven_wrong_fails_every_ambiguous_row() -> None:
    field = {"column": "A", "type": "date", "formats": ["%m/%d/%Y"]}
    parsed = derive({"f": field}, [{"A": "01/12/2023"}, {"A": "15/01/2024"}, {"A": "12/31/2023"}])
    assert parsed.values["f"] == [None, None, 1703980800]  # 12/31 reads one way only
    assert [str(f) for p in sorted(parsed.failures) for f in parsed.failures[p]] == [
        'line 2, column "A": "01/12/2023" is ambiguous: line 3 ("15/01/2024") shows the dates '
        "are DD/MM/YYYY, not MM/DD/YYYY (expected the job's formats to say DD/MM/YYYY "
        "(%d/%m/%Y))",
        'line 3, column "A": "15/01/2024" is not a date in format MM/DD/YYYY (expected '
        "MM/DD/YYYY; 15 cannot be a month — is the file DD/MM/YYYY?)",
    ]
    assert parsed.unskippable == {0, 1}


def test_ambiguous_dates_alone_prove_nothing() -> None:
    field = {"column": "A", "type": "date", "formats": ["%m/%d/%Y"]}
    parsed = derive({"f": field}, [{"A": "01/12/2023"}, {"A": "bad"}])
    assert parsed.values["f"] == [1673481600, None]
    assert parsed.unskippable == set()


# ------------------------------------------------------------------------------ integer, bool


def test_integer() -> None:
    assert values({"column": "A", "type": "integer"}, "1002", "-7", "1 000") == [1002, -7, 1000]
    assert failures({"column": "A", "type": "integer"}, "10.5") == [
        'line 2, column "A": "10.5" is not a whole number (expected digits only, e.g. 1002)'
    ]


def test_boolean() -> None:
    assert values({"column": "A", "type": "boolean"}, "Yes", "no", "1", "FALSE") == [
        True, False, True, False,
    ]  # fmt: skip
    assert failures({"column": "A", "type": "boolean"}, "maybe") == [
        'line 2, column "A": "maybe" is not yes/no (expected true/false, yes/no or 1/0)'
    ]


@pytest.mark.parametrize(
    ("field", "columns"),
    [
        ({"column": "A"}, ["A"]),
        ({"template": "{B}-{C}"}, ["B", "C"]),
        ({"columns": ["D", "E"]}, ["D", "E"]),
        ({"type": "money", "credit_column": "In", "debit_column": "Out", "currency": "EUR"},
         ["In", "Out"]),
        ({"type": "money", "column": "Price", "quantity_column": "Qty", "currency": "EUR"},
         ["Price", "Qty"]),
    ],
)
def test_used_columns(field: dict[str, Any], columns: list[str]) -> None:
    assert used_columns(job({"f": field})) == columns
