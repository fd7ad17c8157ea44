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

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font, PatternFill

from batchpay.money import MAX_MINOR

from .amounts import format_minor, known_currency, number_format, to_decimal

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
FONT = "Calibri"  # the workbook's default: styled cells name it too, or viewers pick a serif
HEADER_FILL = "D9E1F2"  # pale blue
TECHNICAL_FILL = "EDEDED"  # pale grey: columns for batchpay and support, not for reading
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
    align: str | None = None  # "left", "center"...: a number beside text must not touch it
    indent: int = 0  # text a little off the left edge, clear of a number in the cell before
    top: bool = False  # aligned to the top, level with wrapped text in the same row


PLAIN = Style()
Parts = tuple[Any, str, Style]  # value, openpyxl data type, style


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
        self._formats: dict[tuple[int, str, bool], tuple[Style, Style]] = {}

    def _styled(self, value: Any, style: Style) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value)
        if style != PLAIN:
            cell._style = copy(self._style_array(style))
        return cell

    def _derived(self, style: Style, number_format: str | None, quote: bool = False) -> Style:
        """``style`` with another number format and/or the quote prefix (cached)."""
        fmt = style.number_format if number_format is None else number_format
        key = (id(style), fmt, quote)  # by id: hashing the dataclass per cell costs more
        entry = self._formats.get(key)
        if entry is None:  # the entry holds ``style``, so its id cannot be reused
            derived = replace(style, number_format=fmt, quote=quote or style.quote)
            entry = self._formats[key] = (style, derived)
        return entry[1]

    def _style_array(self, style: Style) -> Any:
        cached = self._styles.get(style)
        if cached is None:
            cell = WriteOnlyCell(self.ws)
            cell.font = Font(name=FONT, family=2, bold=style.bold, size=style.size or 11,
                             color=style.color)
            if style.fill:
                cell.fill = PatternFill("solid", start_color=style.fill, end_color=style.fill)
            cell.number_format = style.number_format
            if style.wrap or style.align or style.indent or style.top:
                align = style.align or ("left" if style.indent else None)
                cell.alignment = Alignment(wrap_text=style.wrap or None, horizontal=align,
                                           indent=style.indent,
                                           vertical="top" if style.wrap or style.top else None)
            cell.quotePrefix = style.quote
            cached = self._styles[style] = cell._style
        return cached

    def blank(self, style: Style) -> WriteOnlyCell:
        """An empty cell that only carries a style (a fill); text may overflow into it."""
        return self._styled(None, style)

    # Each kind has a ``*_parts`` method giving (value, openpyxl data type, style), or None for
    # an empty cell: the row sheets write those into reused cells (sheets.py), the methods
    # below make cells (or bare values) of them for everything else.

    def text_parts(self, value: str | None, style: Style = PLAIN) -> Parts | None:
        if value is None or value == "":
            return None
        value = safe_text(str(value))
        if is_formula_like(value):
            style = self._derived(style, None, quote=True)
        return value, "s", style

    def ident_parts(self, value: str | None, style: Style = PLAIN) -> Parts | None:
        return self.text_parts(value, self.ident_style(style))

    def ident_style(self, style: Style) -> Style:
        """``style`` with the text number format: ``text_parts`` with it is ``ident_parts``."""
        return self._derived(style, TEXT_FORMAT)

    def number_parts(self, value: int | None, style: Style = PLAIN) -> Parts | None:
        if value is None:
            return None
        return value, "b" if isinstance(value, bool) else "n", style

    def money_parts(self, money: Money | None, style: Style = PLAIN) -> Parts | None:
        if money is None or money.minor is None:
            return None
        currency = known_currency(money.currency)
        if currency == "?":
            return None
        if abs(money.minor) > MAX_MINOR:  # e.g. a total of many large rows: exact text
            return self.text_parts(format_minor(money.minor, currency), style)
        fmt = number_format(currency)
        return to_decimal(money.minor, currency), "n", self._derived(style, fmt)

    def date_parts(self, value: datetime | None, style: Style = PLAIN) -> Parts | None:
        if value is None:
            return None
        local = value.replace(tzinfo=None)
        if local.time() == datetime.min.time():
            day: date = local.date()
            return day, "d", self._derived(style, DATE_FORMAT)
        return local, "d", self._derived(style, DATETIME_FORMAT)

    def yes_no_parts(self, value: bool, style: Style = PLAIN) -> Parts | None:
        return self.text_parts("yes" if value else "no", style)

    def text(self, value: str | None, style: Style = PLAIN) -> WriteOnlyCell | str | None:
        """A string cell that can never be a formula; ``None`` for an empty value."""
        parts = self.text_parts(value, style)
        if parts is None:
            return None
        text, _, style = parts
        if style is PLAIN and text not in ERROR_CODES:
            return text  # openpyxl binds it as a plain string
        cell = self._styled(text, style)
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
        parts = self.money_parts(money, style)
        return None if parts is None else self._styled(parts[0], parts[2])

    def date(self, value: datetime | None, style: Style = PLAIN) -> WriteOnlyCell | None:
        """A real date cell, at the wall-clock time of its own zone (Excel has no zones)."""
        parts = self.date_parts(value, style)
        return None if parts is None else self._styled(parts[0], parts[2])

    def yes_no(self, value: bool, style: Style = PLAIN) -> WriteOnlyCell | None:
        return self.text("yes" if value else "no", style)

    def slot(self, column: int, style: Style) -> SlotCell:
        """A cell to reuse row after row in one column with one style (see sheets._fill)."""
        cell = SlotCell(self.ws)
        cell.column = column
        if style != PLAIN:
            cell._style = copy(self._style_array(style))
        cell.has_style = cell._style is not None and any(cell._style)
        cell.style_id = self.ws.parent._cell_styles.add(cell._style) if cell.has_style else 0
        return cell


class SlotCell(Cell):
    """A cell whose style is fixed: openpyxl's ``style_id`` and ``has_style`` properties, read
    for every cell written, hash the style array each time; here they are worked out once."""

    __slots__ = ("has_style", "style_id")
