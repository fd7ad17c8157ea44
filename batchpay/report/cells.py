"""Cells for a write-only workbook: safe text, ids, money, dates, with cached styles.

Every string is written as a string cell (``data_type "s"``), never a formula or an error
value; a string that a spreadsheet would read as a formula when typed or pasted (first
character ``= + - @``, tab or CR) also gets the *quote prefix* style, Excel's own marker for
"this is text" (what typing a leading apostrophe does), so the visible text stays identical.
"""

from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font, PatternFill

from .amounts import known_currency, number_format, to_decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_TEXT = 32_767  # Excel's limit on characters in one cell
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0

TEXT_FORMAT = "@"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

# Fill colours (light, dark text stays readable; each outcome also named in words).
OUTCOME_FILLS = {
    "posted": "C6EFCE",  # green, Excel's "Good"
    "skipped": "E7E6E6",  # grey
    "failed": "FFC7CE",  # red, Excel's "Bad"
    "invalid": "F8CBAD",  # orange
    "needs_review": "FFEB9C",  # yellow, Excel's "Neutral"
}
OK_FILL, OK_FONT = "C6EFCE", "006100"
MISMATCH_FILL, MISMATCH_FONT = "FFC7CE", "9C0006"
HEADER_FILL = "D9E1F2"  # pale blue
BANNER_FILLS = {"execute": "F8CBAD", "dry-run": "DDEBF7", "validate": "DDEBF7"}


@dataclass(frozen=True)
class Money:
    """An amount to show as a number with its currency's decimal places."""

    minor: int | None
    currency: str | None


@dataclass(frozen=True)
class Style:
    """What a cell looks like; hashable so each combination is built once per sheet.

    Cells with the default style and a plain value are handed to openpyxl as bare values,
    which it writes faster than cell objects.
    """

    bold: bool = False
    size: float | None = None
    color: str | None = None
    fill: str | None = None
    number_format: str = "General"
    quote: bool = False
    wrap: bool = False


PLAIN = Style()


def safe_text(value: str) -> str:
    """Text Excel can store: no XML-illegal control characters, at most 32,767 characters."""
    value = _ILLEGAL.sub("\ufffd", value)
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def is_formula_like(value: str) -> bool:
    """Would a spreadsheet take this string for a formula (or DDE) when typed or pasted?"""
    return value.startswith(FORMULA_STARTS)


class CellMaker:
    """Makes styled ``WriteOnlyCell``s for one worksheet, caching each style combination."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._styles: dict[Style, Any] = {}
        self._formats: dict[tuple[Style, str, bool], Style] = {}

    def _styled(self, value: Any, style: Style) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value)
        if style != PLAIN:
            cell._style = copy(self._style_array(style))
        return cell

    def _derived(self, style: Style, number_format: str | None, quote: bool = False) -> Style:
        """``style`` with another number format and/or the quote prefix (cached)."""
        fmt = style.number_format if number_format is None else number_format
        key = (style, fmt, quote)
        derived = self._formats.get(key)
        if derived is None:
            derived = self._formats[key] = replace(style, number_format=fmt,
                                                   quote=quote or style.quote)
        return derived

    def _style_array(self, style: Style) -> Any:
        cached = self._styles.get(style)
        if cached is None:
            cell = WriteOnlyCell(self.ws)
            cell.font = Font(bold=style.bold, size=style.size, color=style.color)
            if style.fill:
                cell.fill = PatternFill("solid", start_color=style.fill, end_color=style.fill)
            cell.number_format = style.number_format
            if style.wrap:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            cell.quotePrefix = style.quote
            cached = self._styles[style] = cell._style
        return cached

    def blank(self, style: Style) -> WriteOnlyCell:
        """An empty cell that only carries a style (a fill); text may overflow into it."""
        return self._styled(None, style)

    def text(self, value: str | None, style: Style = PLAIN) -> WriteOnlyCell | str | None:
        """A string cell that can never be a formula; ``None`` for an empty value."""
        if value is None or value == "":
            return None
        value = safe_text(str(value))
        if is_formula_like(value):
            style = self._derived(style, None, quote=True)
        elif style is PLAIN and value not in ERROR_CODES:
            return value  # openpyxl binds it as a plain string
        cell = self._styled(value, style)
        cell.data_type = "s"  # not "f" (leading "=") and not "e" (e.g. "#N/A")
        return cell

    def ident(self, value: str | None, style: Style = PLAIN) -> WriteOnlyCell | None:
        """An id: text with the text number format, so "00012" keeps its zeros when edited."""
        return self.text(value, self._derived(style, TEXT_FORMAT))

    def number(self, value: int | None, style: Style = PLAIN) -> WriteOnlyCell | int | None:
        if value is None or style is PLAIN:
            return value
        return self._styled(value, style)

    def money(self, money: Money | None, style: Style = PLAIN) -> WriteOnlyCell | None:
        """A Decimal with the currency's decimal places; blank when amount or currency unknown."""
        if money is None or money.minor is None:
            return None
        currency = known_currency(money.currency)
        if currency == "?":
            return None
        fmt = number_format(currency)
        return self._styled(to_decimal(money.minor, currency), self._derived(style, fmt))

    def date(self, value: datetime | None, style: Style = PLAIN) -> WriteOnlyCell | None:
        """A real date cell, at the wall-clock time of its own zone (Excel has no zones)."""
        if value is None:
            return None
        local = value.replace(tzinfo=None)
        if local.time() == datetime.min.time():
            day: date = local.date()
            return self._styled(day, self._derived(style, DATE_FORMAT))
        return self._styled(local, self._derived(style, DATETIME_FORMAT))

    def yes_no(self, value: bool, style: Style = PLAIN) -> WriteOnlyCell | None:
        return self.text("yes" if value else "no", style)
