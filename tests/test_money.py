"""Exact money: parsing real bank texts, minor units, formatting, and round-trip properties."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchpay.money import (
    CURRENCY_EXPONENTS,
    MoneyError,
    UnknownCurrency,
    currency_exponent,
    format_amount,
    from_minor_units,
    parse_amount,
    plain_minor_units,
    to_minor_units,
)

CURRENCY_BY_EXPONENT = {0: "JPY", 2: "USD", 3: "KWD", 4: "CLF"}
SEPARATOR_STYLES = [
    (decimal, thousands)
    for decimal in (".", ",")
    for thousands in (None, ",", ".", " ", "'")
    if thousands != decimal
]


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "expected"),
    [
        ("-1.001,00", ",", ".", "-1001.00"),  # easybank
        ("+12,10", ",", ".", "12.10"),  # easybank
        ("-0,42", ",", ".", "-0.42"),  # easybank
        ("$20,053.01", ".", ",", "20053.01"),  # Schwab
        ("$1133.94", ".", ",", "1133.94"),  # Schwab, same column, no thousands separator
        ("2000", ".", None, "2000"),  # Lloyds credit without decimals
        ("-1063,35", ",", None, "-1063.35"),  # OP
        ("-9.99", ".", None, "-9.99"),  # Fineco
        ("  12.50  ", ".", None, "12.50"),
        ("(12.50)", ".", None, "-12.50"),
        ("$(1,234.50)", ".", ",", "-1234.50"),
        ("12.50-", ".", None, "-12.50"),
        ("12.50 CR", ".", None, "12.50"),
        ("12.50DR", ".", None, "-12.50"),
        ("EUR 12,50", ",", ".", "12.50"),
        ("12.50 USD", ".", None, "12.50"),
        ("-€1.234,50", ",", ".", "-1234.50"),
        ("1 234,50 €", ",", " ", "1234.50"),
        ("1\u00a0234,50", ",", " ", "1234.50"),  # no-break space as thousands
        ("CHF 1'234.50", ".", "'", "1234.50"),
        ("£-3.00", ".", None, "-3.00"),
        ("'42.00", ".", None, "42.00"),  # Excel text-guard apostrophe
        ("-0.00", ".", None, "-0.00"),
        ("0012", ".", None, "12"),
    ],
)
def test_parse_amount_accepts(
    text: str, decimal: str, thousands: str | None, expected: str
) -> None:
    assert parse_amount(text, decimal=decimal, thousands=thousands) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "problem"),
    [
        ("", ".", None, "is empty"),
        ("   ", ".", None, "is empty"),
        ("abc", ".", None, "is not an amount"),
        ("12,3x", ",", ".", "is not an amount"),
        ("$", ".", None, "is not an amount"),
        ("12.", ".", None, "is not an amount"),
        ("12 XDR", ".", None, "is not an amount"),
        ("12,50", ".", None, "is not an amount"),  # decimal comma where a point is expected
        ("1.2.3", ".", None, "has two decimal separators"),
        ("1,234,56", ",", ".", "has two decimal separators"),  # comma used as thousands
        ("1,23.00", ".", ",", "has misplaced thousands separators"),
        ("1.5", ",", ".", "has misplaced thousands separators"),  # decimal point, comma expected
        ("1,234.5,6", ".", ",", "has a thousands separator after the decimal separator"),
        ("1e5", ".", None, "is in scientific notation"),
        ("1.5E+03", ".", None, "is in scientific notation"),
        ("--12", ".", None, "has more than one sign"),
        ("-(12.00)", ".", None, "has more than one sign"),
        ("-12.00 DR", ".", None, "has more than one sign"),
        ("1" * 31, ".", None, "has more than 30 digits"),
    ],
)
def test_parse_amount_rejects(text: str, decimal: str, thousands: str | None, problem: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_amount(text, decimal=decimal, thousands=thousands)
    assert caught.value.problem == problem


def test_money_error_says_what_was_expected() -> None:
    with pytest.raises(MoneyError) as caught:
        parse_amount("12,3x", decimal=",", thousands=".")
    assert caught.value.expected == "decimal comma, e.g. 1.234,56"
    assert str(caught.value) == "is not an amount (expected decimal comma, e.g. 1.234,56)"


# ------------------------------------------------------------------- currency in the cell


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("EUR 12.50", "EUR", "12.50"),
        ("$100.00", "USD", "100.00"),
        ("$100.00", "MXN", "100.00"),  # "$" is also the peso
        ("£12.50", "EGP", "12.50"),
        ("100 kr", "NOK", "100"),
        ("¥5000", "CNY", "5000"),
        ("Rs 1500", "LKR", "1500"),
        ("₨1500", "PKR", "1500"),
        ("CHF 1'234.50", "chf", "1234.50"),
    ],
)
def test_currency_in_the_text_fits_the_row(text: str, currency: str, expected: str) -> None:
    assert parse_amount(text, thousands="'", currency=currency) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "currency", "problem"),
    [
        ("JPY 5000", "EUR", "says JPY; the row's currency is EUR"),
        ("100.00 USD", "EUR", "says USD; the row's currency is EUR"),
        ("$100.00", "EUR", "says $; the row's currency is EUR"),
        ("£12.50", "EUR", "says £; the row's currency is EUR"),
        ("€1.50", "USD", "says €; the row's currency is USD"),
        ("US$ 5", "CAD", "says US$; the row's currency is CAD"),
        ("kr 100", "EUR", "says kr; the row's currency is EUR"),
        ("¥500", "KRW", "says ¥; the row's currency is KRW"),
    ],
)
def test_currency_in_the_text_that_contradicts_the_row_is_refused(
    text: str, currency: str, problem: str
) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_amount(text, currency=currency)
    assert caught.value.problem == problem
    assert caught.value.expected == f"an amount in {currency}"


@pytest.mark.parametrize("currency", ["USD", None])
def test_cents_are_refused_not_read_as_units(currency: str | None) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_amount("50¢", currency=currency)
    assert caught.value.problem == "is in cents (¢)"
    assert "0.50 for 50¢" in caught.value.expected


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "expected"),
    [
        ("Rs.1500", ".", None, "1500"),
        ("Rs.1,500.00", ".", ",", "1500.00"),
        ("Rs. 1500", ".", None, "1500"),
        ("1500 Rs.", ".", None, "1500"),
        ("₨ 1500", ".", None, "1500"),
        ("kr.100", ",", ".", "100"),
        ("kr. 1.250,50", ",", ".", "1250.50"),
        ("100 kr.", ",", ".", "100"),
    ],
)
def test_symbols_ending_in_a_dot_are_whole(
    text: str, decimal: str, thousands: str | None, expected: str
) -> None:
    assert parse_amount(text, decimal=decimal, thousands=thousands) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "decimal"), [("€.50", "."), ("$ .50", "."), ("-$.50", "."), ("Rs..50", "."),
                          ("€,50", ","), ("USD .50", ".")],
)
def test_decimal_separator_right_after_a_currency_is_refused(text: str, decimal: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_amount(text, decimal=decimal)
    assert caught.value.problem == f'is ambiguous: "{decimal}" right after the currency sign'


@pytest.mark.parametrize(("decimal", "thousands"), [(";", None), (".", "."), (",", "_")])
def test_bad_separator_settings_are_plain_value_errors(decimal: str, thousands: str | None) -> None:
    with pytest.raises(ValueError, match="separator") as caught:
        parse_amount("1", decimal=decimal, thousands=thousands)
    assert not isinstance(caught.value, MoneyError)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.500", "USD", 1250),  # trailing zeros are not extra precision
        ("150000", "JPY", 150000),
        ("1E+2", "JPY", 100),
        ("12.345", "KWD", 12345),
        ("-1001.00", "EUR", -100100),
        ("0.0001", "CLF", 1),
        ("-0.00", "usd", 0),
    ],
)
def test_to_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "problem", "expected"),
    [
        ("12.345", "USD", "has 3 decimals; USD allows 2", "at most 2 decimals"),
        ("1.5", "JPY", "has 1 decimal; JPY allows 0", "whole JPY"),
        ("0.30000000000000004", "USD", "has 17 decimals; USD allows 2", "at most 2 decimals"),
        ("NaN", "USD", "is not an amount", "a number of USD"),
        ("1E+30", "USD", "is too large", "at most 9,999,999,999,999.99 USD"),
        # issue 13 item 13: int64's maximum was accepted, then shown as a float in the workbook
        ("92233720368547758.07", "USD", "is too large", "at most 9,999,999,999,999.99 USD"),
        ("10000000000000.00", "USD", "is too large", "at most 9,999,999,999,999.99 USD"),
        ("1000000000000000", "JPY", "is too large", "at most 999,999,999,999,999 JPY"),
    ],
)
def test_to_minor_units_never_rounds(
    amount: str, currency: str, problem: str, expected: str
) -> None:
    with pytest.raises(MoneyError) as caught:
        to_minor_units(Decimal(amount), currency)
    assert (caught.value.problem, caught.value.expected) == (problem, expected)


def test_largest_amount_is_accepted_exactly() -> None:
    assert to_minor_units(Decimal("9999999999999.99"), "USD") == 10**15 - 1
    assert to_minor_units(Decimal("-9999999999999.99"), "USD") == -(10**15 - 1)


def test_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency, match="'XYZ' is not an ISO 4217"):
        to_minor_units(Decimal(1), "XYZ")


def test_currency_exponents() -> None:
    assert [currency_exponent(c) for c in ("JPY", "usd", " KWD ", "CLF")] == [0, 2, 3, 4]


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123456, "USD", "1,234.56"),
        (150000, "JPY", "150,000"),
        (12345, "KWD", "12.345"),
        (-1250, "USD", "-12.50"),
        (5, "USD", "0.05"),
        (-5, "CLF", "-0.0005"),
        (0, "EUR", "0.00"),
    ],
)
def test_format_amount(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text


def test_format_amount_with_other_separators() -> None:
    assert format_amount(123456789, "EUR", decimal=",", thousands=".") == "1.234.567,89"
    assert format_amount(123456789, "EUR", decimal=",", thousands=None) == "1234567,89"


def test_from_minor_units() -> None:
    assert from_minor_units(1250, "USD") == Decimal("12.50")
    assert str(from_minor_units(1250, "USD")) == "12.50"
    assert str(from_minor_units(-7, "JPY")) == "-7"
    assert str(from_minor_units(12345, "KWD")) == "12.345"


minor_units = st.integers(min_value=-(10**15 - 1), max_value=10**15 - 1)
exponents = st.sampled_from(sorted(CURRENCY_BY_EXPONENT))
styles = st.sampled_from(SEPARATOR_STYLES)


@given(minor=minor_units, exponent=exponents, style=styles)
def test_format_then_parse_round_trips(
    minor: int, exponent: int, style: tuple[str, str | None]
) -> None:
    decimal, thousands = style
    currency = CURRENCY_BY_EXPONENT[exponent]
    text = format_amount(minor, currency, decimal=decimal, thousands=thousands)
    amount = parse_amount(text, decimal=decimal, thousands=thousands)
    assert to_minor_units(amount, currency) == minor
    assert from_minor_units(minor, currency) == amount


@given(minor=minor_units, exponent=exponents, style=styles)
def test_thousands_separators_are_optional(
    minor: int, exponent: int, style: tuple[str, str | None]
) -> None:
    decimal, thousands = style
    currency = CURRENCY_BY_EXPONENT[exponent]
    plain = format_amount(minor, currency, decimal=decimal, thousands=None)
    amount = parse_amount(plain, decimal=decimal, thousands=thousands)
    assert to_minor_units(amount, currency) == minor


@given(minor=minor_units, exponent=exponents, style=styles, extra=st.integers(1, 9))
def test_one_decimal_too_many_is_always_rejected(
    minor: int, exponent: int, style: tuple[str, str | None], extra: int
) -> None:
    decimal, thousands = style
    currency = CURRENCY_BY_EXPONENT[exponent]
    text = format_amount(minor, currency, decimal=decimal, thousands=thousands)
    text += f"{extra}" if exponent else f"{decimal}{extra}"
    amount = parse_amount(text, decimal=decimal, thousands=thousands)
    with pytest.raises(MoneyError, match=f"has {exponent + 1} decimal"):
        to_minor_units(amount, currency)


@given(value=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_float_rounded_text_is_never_accepted_as_usd(value: float) -> None:
    text = repr(value)
    try:
        minor = to_minor_units(parse_amount(text), "USD")
    except MoneyError:
        return
    # Accepted only when the text had at most two decimals, and then exactly.
    assert Decimal(text) * 100 == minor


def test_float_noise_is_rejected() -> None:
    with pytest.raises(MoneyError, match="has 17 decimals"):
        to_minor_units(parse_amount(repr(0.1 + 0.2)), "USD")
    with pytest.raises(MoneyError, match="scientific"):
        parse_amount(repr(1e-7))


def test_uruguayan_peso_is_a_currency() -> None:
    assert currency_exponent("UYU") == 2
    assert to_minor_units(parse_amount("$ 1.250,50", decimal=",", thousands=".", currency="UYU"),
                          "UYU") == 125050


_AMOUNT_ALPHABET = "0123456789.,' -+()$€¥CRDRUSDJPY\u00a0\u0663"  # \u0663: ARABIC-INDIC THREE


@settings(max_examples=3000, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet=_AMOUNT_ALPHABET, max_size=40),
        st.from_regex(r"[0-9]{1,3}([,. '][0-9]{3}){0,11}([.,][0-9]{0,6})?", fullmatch=True),
        st.from_regex(r"[0-9]{1,34}([.,][0-9]{0,34})?", fullmatch=True),
    ),
    separators=st.sampled_from([(".", None), (".", ","), (",", "."), (",", " "), (".", "'")]),
    currency=st.sampled_from(["USD", "JPY", "KWD", "CLF", "usd", "LTL", "XXX"]),
)
def test_plain_amounts_read_as_the_general_parser_reads_them(
    text: str, separators: tuple[str, str | None], currency: str
) -> None:
    """The shortcut for bare digits gives what parse_amount + to_minor_units give, or nothing
    (then the general parser reads the text, or refuses it with its message)."""
    decimal, thousands = separators
    fast = plain_minor_units(text, decimal=decimal, thousands=thousands, currency=currency)
    try:
        general: int | None = to_minor_units(
            parse_amount(text, decimal=decimal, thousands=thousands, currency=currency), currency)
    except (MoneyError, UnknownCurrency):
        general = None
    if fast is not None:
        assert fast == general
    shape = rf"[0-9]+([{re.escape(decimal)}][0-9]+)?"
    if re.fullmatch(shape, text) and general is not None and currency.isupper() and (
            currency in CURRENCY_EXPONENTS):
        assert fast == general  # the usual amount takes the shortcut
