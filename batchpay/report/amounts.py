"""Minor units to exact Decimals, Excel number formats and plain-text amounts. No floats."""

from __future__ import annotations

from decimal import Decimal

from batchpay.money import CURRENCY_EXPONENTS as ISO_EXPONENTS
from batchpay.money import KNOWN_EXPONENTS as CURRENCY_EXPONENTS  # ISO + job-declared

UNKNOWN_CURRENCY = "?"


def known_currency(code: str | None) -> str:
    """The code in upper case, or ``"?"`` when it is missing, not ISO 4217 and not declared."""
    if not code:
        return UNKNOWN_CURRENCY
    if code in ISO_EXPONENTS:  # already an ISO code as written: the usual case, one look-up
        return code
    code = code.strip().upper()
    return code if code in CURRENCY_EXPONENTS else UNKNOWN_CURRENCY


def _exponent(currency: str) -> int:
    exponent = ISO_EXPONENTS.get(currency)  # a plain dict first: the ChainMap is slower
    return CURRENCY_EXPONENTS[currency] if exponent is None else exponent


def to_decimal(minor: int, currency: str) -> Decimal:
    """``1250, "USD"`` -> ``Decimal("12.50")``; JPY has no minor unit, KWD has three."""
    return Decimal(minor).scaleb(-_exponent(currency))


def number_format(currency: str) -> str:
    """Excel number format with the currency's decimal places: ``#,##0.00``, ``#,##0``..."""
    places = ISO_EXPONENTS.get(currency)
    if places is None:
        places = CURRENCY_EXPONENTS.get(currency, 2)
    return "#,##0." + "0" * places if places else "#,##0"


def format_minor(minor: int, currency: str) -> str:
    """Amount as text with thousands separators, e.g. ``-1,234.50``; ``n/a`` if unknown."""
    if currency not in CURRENCY_EXPONENTS:
        return "n/a"
    return f"{to_decimal(minor, currency):,}"
