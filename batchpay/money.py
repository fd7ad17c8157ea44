"""Exact money: text -> Decimal -> integer minor units by ISO 4217 exponent. No floats."""

from __future__ import annotations

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
TMT TOP TRY TTD TWD TZS UAH USD UZS VES WST XCD YER ZAR ZMW ZWL
""".split()

CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 2 for code in _TWO_EXPONENT_CODES},
    **_NON_TWO_EXPONENTS,
}


class UnknownCurrency(ValueError):
    """A currency code that is not an active ISO 4217 code."""


def currency_exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    try:
        return CURRENCY_EXPONENTS[code.strip().upper()]
    except KeyError:
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code") from None
