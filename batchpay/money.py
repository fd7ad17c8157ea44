"""Exact money: text -> Decimal -> integer minor units by ISO 4217 exponent. No floats."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from functools import lru_cache
from types import MappingProxyType

# ISO 4217 minor-unit exponents for currencies whose exponent is not 2.
_NON_TWO_EXPONENTS: dict[str, int] = {
    # zero-decimal
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three-decimal
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four-decimal
    "CLF": 4, "UYW": 4,
}

# Active ISO 4217 codes with exponent 2.
_TWO_EXPONENT_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD
MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP
PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS
TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL
""".split()  # noqa: SIM905

CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 2 for code in _TWO_EXPONENT_CODES},
    **_NON_TWO_EXPONENTS,
}


# Currencies a job declares (``currencies: {LTL: 2}``): historic or private ones, known while that
# job's spec is checked and its run goes (a context variable: in the web server, one job's
# declarations never change how another job reads amounts).
_DECLARED: ContextVar[Mapping[str, int]] = ContextVar("declared_currencies",
                                                     default=MappingProxyType({}))


class _KnownExponents(Mapping[str, int]):
    """ISO 4217's exponents and those of the currencies the current job declares."""

    def __getitem__(self, code: str) -> int:
        found = CURRENCY_EXPONENTS.get(code)
        return _DECLARED.get()[code] if found is None else found

    def __iter__(self) -> Iterator[str]:
        yield from CURRENCY_EXPONENTS
        yield from (c for c in _DECLARED.get() if c not in CURRENCY_EXPONENTS)

    def __len__(self) -> int:
        return sum(1 for _ in self)


KNOWN_EXPONENTS: Mapping[str, int] = _KnownExponents()


class UnknownCurrency(ValueError):
    """A currency code that is not an active ISO 4217 code (nor one a job declared)."""


def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    key = code.strip().upper()
    found = CURRENCY_EXPONENTS.get(key)
    if found is None:
        found = _DECLARED.get().get(key)
        if found is None:
            raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code")
    return found


def checked_declarations(currencies: Mapping[str, int]) -> dict[str, int]:
    """A job's declared currencies (LTL, the litas until 2015), each with the number of
    decimals of its minor unit, checked: an ISO 4217 code keeps its own decimals."""
    checked: dict[str, int] = {}
    for given, exponent in currencies.items():
        code = given.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValueError(f"{code!r} is not a currency code (three letters, e.g. LTL)")
        if not 0 <= exponent <= 4:
            raise ValueError(f"{code}: {exponent} decimals; a currency has 0 to 4")
        known = CURRENCY_EXPONENTS.get(code)
        if known is not None and known != exponent:
            raise ValueError(f"{code}: ISO 4217 gives it {known} decimals, not {exponent}")
        checked[code] = exponent
    return checked


@contextmanager
def declared_currencies(currencies: Mapping[str, int]) -> Iterator[None]:
    """Within the block (and the asyncio tasks started in it) these currencies are known
    besides ISO 4217, instead of those any other job declares."""
    token = _DECLARED.set(checked_declarations(currencies))
    try:
        yield
    finally:
        _DECLARED.reset(token)


class MoneyError(ValueError):
    """A text that is not an amount, or an amount the currency cannot hold exactly."""

    def __init__(self, problem: str, expected: str = "") -> None:
        super().__init__(f"{problem} (expected {expected})" if expected else problem)
        self.problem = problem
        self.expected = expected


# Every Decimal operation on the money path runs in this context: any rounding raises.
MONEY_CONTEXT = Context(
    prec=60,
    rounding=ROUND_HALF_EVEN,
    Emin=-999,
    Emax=999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

DECIMAL_SEPARATORS = (".", ",")
THOUSANDS_SEPARATORS = (",", ".", " ", "'")
MAX_DIGITS = 30  # far beyond any real payment; stops megabyte "amounts"
# 15 significant digits: the most a spreadsheet number holds exactly (a double), far inside the
# API's int64 and far beyond any one payment (USD 9,999,999,999,999.99; JPY 999 trillion).
MAX_MINOR = 10**15 - 1

# Each symbol and the ISO codes it can stand for (generously: a symbol only has to fit).
_SYMBOL_CODES = {
    "US$": "USD", "CA$": "CAD", "AU$": "AUD", "NZ$": "NZD", "HK$": "HKD", "MX$": "MXN",
    "R$": "BRL", "C$": "CAD NIO", "A$": "AUD", "S$": "SGD",
    "$": "USD CAD AUD NZD HKD SGD TWD MXN ARS CLP COP CUP DOP UYU BBD BMD BND BSD BZD FJD "
         "GYD JMD KYD LRD NAD SBD SRD TTD XCD ZWL TOP WST MOP NIO",  # dollars, pesos, ...
    "€": "EUR", "£": "GBP EGP FKP GIP SHP SSP SYP LBP SDG", "¥": "JPY CNY", "₹": "INR",
    "₩": "KRW KPW", "₽": "RUB", "₺": "TRY", "₪": "ILS", "₫": "VND", "₱": "PHP CUP", "₦": "NGN",
    "₴": "UAH", "₲": "PYG", "₡": "CRC SVC", "₵": "GHS", "₸": "KZT", "₼": "AZN", "zł": "PLN",
    "Kč": "CZK", "kr.": "SEK NOK DKK ISK", "kr": "SEK NOK DKK ISK",
    "Fr.": "CHF CDF BIF DJF GNF KMF RWF XAF XOF XPF",
    "Rs.": "INR PKR LKR NPR MUR SCR", "Rs": "INR PKR LKR NPR MUR SCR",
    "₨": "INR PKR LKR NPR MUR SCR",
    "¢": "",  # cents: refused, never read as whole units
}  # fmt: skip
_SYMBOLS = {symbol: frozenset(codes.split()) for symbol, codes in _SYMBOL_CODES.items()}
# Longest first, so "Rs.1500" loses "Rs." (not "Rs", leaving ".1500").
_CURRENCY = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_PREFIX = re.compile(
    rf"^(?:(?P<sign>[+-])|(?P<symbol>{_CURRENCY})|(?P<code>[A-Z]{{3}})(?![A-Za-z]))"
)
_SUFFIX = re.compile(
    rf"(?:(?P<sign>[+-])|(?P<symbol>{_CURRENCY})|(?<![A-Za-z])(?P<code>[A-Z]{{3}})"
    r"|(?<![A-Za-z])(?P<crdr>[CcDd][Rr]))$"
)
_SCIENTIFIC = re.compile(r"^[0-9.,]*[0-9][eE][+-]?[0-9]+$")


def parse_amount(
    text: str, *, decimal: str = ".", thousands: str | None = None, currency: str | None = None
) -> Decimal:
    """Read an amount exactly: ``"-1.001,00"`` with ``decimal=","``, ``thousands="."``.

    Accepts surrounding spaces, currency symbols and ISO codes on either side, a leading ``+``
    or ``-``, a trailing ``-``, parentheses and ``CR``/``DR`` (DR is negative), and Excel's
    text-guard apostrophe. Thousands separators are optional, but where present they must
    group by three. Given ``currency``, a code in the text must be it and a symbol must be
    able to stand for it. Cents (``50¢``) are refused.
    """
    _check_separators(decimal, thousands)
    expected = expected_format(decimal, thousands)
    affixes = _strip_affixes(_normalise_spaces(text, thousands), expected)
    for mark in affixes.currencies:
        _check_currency(mark, currency, decimal)
    if affixes.currency_first and affixes.core.startswith(decimal):
        raise MoneyError(
            f'is ambiguous: "{decimal}" right after the currency sign',
            f"a digit before the decimal separator, e.g. 0{decimal}50",
        )
    digits = _digits(affixes.core, decimal, thousands, expected)
    return Decimal(f"-{digits}" if affixes.negative else digits)


def plain_minor_units(
    text: str, *, decimal: str = ".", thousands: str | None = None, currency: str
) -> int | None:
    """Minor units of an amount written as bare ASCII digits and separators (``1,234.50``),
    exactly what ``to_minor_units(parse_amount(...), currency)`` gives for it, without the
    general parser; None for any other text (signs, symbols, spaces, more decimals than the
    currency has, too large, an ISO code written otherwise), which that parser then reads or
    refuses with its message."""
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        return None
    match = _plain_amount(decimal, thousands).fullmatch(text)
    if match is None:
        return None
    whole, fraction = match["whole"], match["fraction"] or ""
    if thousands:
        whole = whole.replace(thousands, "")
    if len(whole) + len(fraction) > MAX_DIGITS or fraction[exponent:].strip("0"):
        return None
    minor = int(whole + fraction[:exponent].ljust(exponent, "0"))
    return minor if minor <= MAX_MINOR else None


@lru_cache(maxsize=16)
def _plain_amount(decimal: str, thousands: str | None) -> re.Pattern[str]:
    _check_separators(decimal, thousands)
    grouped = rf"|[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+" if thousands else ""
    return re.compile(rf"(?P<whole>[0-9]+{grouped})(?:{re.escape(decimal)}(?P<fraction>[0-9]+))?")


def expected_format(decimal: str, thousands: str | None) -> str:
    """How amounts should look, for people: ``decimal comma, e.g. 1.234,56``."""
    name = "decimal point" if decimal == "." else "decimal comma"
    example = f"1{thousands}234{decimal}56" if thousands else f"1234{decimal}56"
    return f"{name}, e.g. {example}"


def _check_separators(decimal: str, thousands: str | None) -> None:
    if decimal not in DECIMAL_SEPARATORS:
        raise ValueError(f"decimal separator must be '.' or ',', not {decimal!r}")
    if thousands is not None and (thousands not in THOUSANDS_SEPARATORS or thousands == decimal):
        raise ValueError(
            f"thousands separator must be one of , . space ' and differ from the decimal "
            f"separator, not {thousands!r}"
        )


def _normalise_spaces(text: str, thousands: str | None) -> str:
    text = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    return text.removeprefix("'").strip()


@dataclass
class _Affixes:
    """What _strip_affixes peeled off an amount's text."""

    core: str = ""  # the bare number
    negative: bool = False
    currencies: list[str] = field(default_factory=list)  # symbols and codes, as written
    currency_first: bool = False  # a currency was cut off the front


def _strip_affixes(text: str, expected: str) -> _Affixes:
    """Peel signs, currencies and CR/DR off both ends; return the bare number and the rest."""
    if not text:
        raise MoneyError("is empty", expected)
    found = _Affixes()
    signs: list[bool] = []  # True for a negative marker
    changed = True
    while changed and text:
        changed = False
        if text.startswith("(") and text.endswith(")"):
            text, changed = text[1:-1].strip(), True
            signs.append(True)
        for pattern, cut in ((_PREFIX, _cut_prefix), (_SUFFIX, _cut_suffix)):
            match = pattern.search(text)
            if match and _is_affix(match):
                text, changed = cut(text, match).strip(), True
                _note(match, found, signs, front=pattern is _PREFIX)
    if len(signs) > 1:
        raise MoneyError("has more than one sign", expected)
    if not text:
        raise MoneyError("is not an amount", expected)
    found.core, found.negative = text, bool(signs and signs[0])
    return found


def _note(match: re.Match[str], found: _Affixes, signs: list[bool], *, front: bool) -> None:
    """Record what one peeled affix says: a sign, or a currency."""
    if match["sign"] or match.groupdict().get("crdr"):
        signs.append(_is_negative(match))
        return
    found.currencies.append(match["symbol"] or match["code"])
    found.currency_first = found.currency_first or front


def _check_currency(mark: str, currency: str | None, decimal: str) -> None:
    """A symbol or code in the text must fit the row's currency; cents are never units."""
    code = currency.strip().upper() if currency else None
    if mark == "¢":
        unit = f"{code} " if code else ""
        raise MoneyError("is in cents (¢)", f"the amount in {unit}units, e.g. 0{decimal}50 for 50¢")
    if code is not None and code not in _SYMBOLS.get(mark, {mark}):
        raise MoneyError(f"says {mark}; the row's currency is {code}", f"an amount in {code}")


def _is_affix(match: re.Match[str]) -> bool:
    code = match["code"]
    return code is None or code in CURRENCY_EXPONENTS


def _is_negative(match: re.Match[str]) -> bool:
    crdr = match.groupdict().get("crdr")
    if crdr:
        return crdr.upper() == "DR"
    return match["sign"] == "-"


def _cut_prefix(text: str, match: re.Match[str]) -> str:
    return text[match.end() :]


def _cut_suffix(text: str, match: re.Match[str]) -> str:
    return text[: match.start()]


def _digits(core: str, decimal: str, thousands: str | None, expected: str) -> str:
    """The number as plain ``1234.56`` text, checking every separator's place."""
    if _SCIENTIFIC.match(core):
        raise MoneyError("is in scientific notation", expected)
    allowed = set("0123456789") | {decimal} | ({thousands} if thousands else set())
    if any(ch not in allowed for ch in core):
        raise MoneyError("is not an amount", expected)
    whole, sep, fraction = core.partition(decimal)
    if decimal in fraction:
        raise MoneyError("has two decimal separators", expected)
    if thousands and thousands in fraction:
        raise MoneyError("has a thousands separator after the decimal separator", expected)
    if sep and not fraction:
        raise MoneyError("is not an amount", expected)
    if thousands and thousands in whole and not _grouped_by_three(whole, thousands):
        raise MoneyError("has misplaced thousands separators", expected)
    whole = whole.replace(thousands, "") if thousands else whole
    if len(whole) + len(fraction) > MAX_DIGITS:
        raise MoneyError(f"has more than {MAX_DIGITS} digits", expected)
    return f"{whole or '0'}.{fraction}" if fraction else whole


def _grouped_by_three(whole: str, thousands: str) -> bool:
    first, *groups = whole.split(thousands)
    return 1 <= len(first) <= 3 and all(len(g) == 3 for g in groups)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Exact integer minor units: ``Decimal("12.50")`` USD -> 1250. Never rounds."""
    exponent = currency_exponent(currency)
    code = currency.strip().upper()
    if not amount.is_finite():
        raise MoneyError("is not an amount", f"a number of {code}")
    decimals = _decimals(amount)
    if decimals > exponent:
        unit = "decimal" if decimals == 1 else "decimals"
        expected = f"whole {code}" if exponent == 0 else f"at most {exponent} decimals"
        raise MoneyError(f"has {decimals} {unit}; {code} allows {exponent}", expected)
    minor = int(amount.scaleb(exponent, MONEY_CONTEXT).quantize(Decimal(1), context=MONEY_CONTEXT))
    if abs(minor) > MAX_MINOR:
        raise MoneyError("is too large", f"at most {format_amount(MAX_MINOR, code)} {code}")
    return minor


def _decimals(amount: Decimal) -> int:
    """Significant decimals: ``12.500`` has 1."""
    exponent = amount.normalize(MONEY_CONTEXT).as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked by the caller
    return max(0, -exponent)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """``1250`` USD -> ``Decimal("12.50")``."""
    return Decimal(minor).scaleb(-currency_exponent(currency), MONEY_CONTEXT)


def format_amount(
    minor: int, currency: str, *, decimal: str = ".", thousands: str | None = ","
) -> str:
    """Minor units as text for people: ``"1,234.56"``, ``"150,000"`` (JPY), ``"-12.50"``."""
    _check_separators(decimal, thousands)
    exponent = currency_exponent(currency)
    whole, fraction = divmod(abs(minor), 10**exponent)
    text = f"{whole:,}".replace(",", thousands or "")
    if exponent:
        text += decimal + str(fraction).zfill(exponent)
    return f"-{text}" if minor < 0 else text
