"""Cells for the workbook (XlsxWriter): safe text, ids, money, dates, one format per style.

Every string is written as a string (inline, see ``cellxml``), never as a formula, a URL or a
number; a string that a spreadsheet would read as a formula when typed or pasted (first
character ``= + - @``, their full-width forms, tab or CR) also gets the *quote prefix* style,
Excel's own marker for "this is text" (what typing a leading apostrophe does), so the visible
text stays identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from batchpay.money import MAX_MINOR

from .amounts import format_minor, known_currency, number_format, to_decimal

# full-width ＝ ＋ － ＠ too: an East Asian Excel takes them typed for the ASCII ones
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
MAX_TEXT = 32_767  # Excel's limit on characters in one cell
# not allowed in XML 1.0: control characters, surrogates, the non-characters U+FFFE, U+FFFF
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

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
    """What a cell looks like; hashable so each combination is one format in the workbook."""

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
Parts = tuple[Any, str, Style]  # value, kind ("s" text, "n" number, "b" yes/no, "d" date), style
BLANK = "blank"  # the kind of a cell holding only a style


def safe_text(value: str) -> str:
    """Text Excel can store: no XML-illegal control characters, at most 32,767 characters
    (marked with "…" when cut; XlsxWriter would cut it silently)."""
    value = _ILLEGAL.sub("\ufffd", value)
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def is_formula_like(value: str) -> bool:
    """Would a spreadsheet take this string for a formula (or DDE) when typed or pasted?"""
    return value.startswith(FORMULA_STARTS)


class CellMaker:
    """Makes cells, ``(value, kind, style)``, for one XlsxWriter workbook, with one format per
    style (``cellxml`` writes them)."""

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self._formats: dict[int, tuple[Style, Any]] = {}  # id(style) -> style, format
        self._by_style: dict[Style, Any] = {PLAIN: None}
        self._derived_styles: dict[tuple[int, str, bool], tuple[Style, Style]] = {}

    def format(self, style: Style) -> Any:
        """The workbook's format for ``style`` (None for the default), looked up by identity:
        hashing the dataclass for every cell would cost more."""
        entry = self._formats.get(id(style))
        if entry is None:  # the entry holds ``style``, so its id cannot be reused
            entry = self._formats[id(style)] = (style, self._format(style))
        return entry[1]

    def _format(self, style: Style) -> Any:
        if style not in self._by_style:
            self._by_style[style] = self.wb.add_format(_properties(style))
        return self._by_style[style]

    def _derived(self, style: Style, number_format: str | None, quote: bool = False) -> Style:
        """``style`` with another number format and/or the quote prefix (cached)."""
        fmt = style.number_format if number_format is None else number_format
        key = (id(style), fmt, quote)  # by id: hashing the dataclass per cell costs more
        entry = self._derived_styles.get(key)
        if entry is None:  # the entry holds ``style``, so its id cannot be reused
            derived = replace(style, number_format=fmt, quote=quote or style.quote)
            entry = self._derived_styles[key] = (style, derived)
        return entry[1]

    def blank(self, style: Style) -> Parts:
        """An empty cell that only carries a style (a fill); text may overflow into it."""
        return None, BLANK, style

    # Each kind has a ``*_parts`` method giving (value, kind, style), or None for an empty
    # cell: the row sheets call them directly (sheets.py), the short names are for the rest.

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

    def text(self, value: str | None, style: Style = PLAIN) -> Parts | None:
        """A string cell that can never be a formula; ``None`` for an empty value."""
        return self.text_parts(value, style)

    def ident(self, value: str | None, style: Style = PLAIN) -> Parts | None:
        """An id: text with the text number format, so "00012" keeps its zeros when edited."""
        return self.ident_parts(value, style)

    def number(self, value: int | None, style: Style = PLAIN) -> Parts | None:
        return self.number_parts(value, style)

    def money(self, money: Money | None, style: Style = PLAIN) -> Parts | None:
        """A Decimal with the currency's decimal places; blank when amount or currency unknown."""
        return self.money_parts(money, style)

    def date(self, value: datetime | None, style: Style = PLAIN) -> Parts | None:
        """A real date cell, at the wall-clock time of its own zone (Excel has no zones)."""
        return self.date_parts(value, style)

    def yes_no(self, value: bool, style: Style = PLAIN) -> Parts | None:
        return self.yes_no_parts(value, style)


def _properties(style: Style) -> dict[str, Any]:
    """XlsxWriter format properties for ``style`` (its default font is Calibri 11)."""
    props: dict[str, Any] = {"font_name": FONT, "font_size": style.size or 11}
    if style.bold:
        props["bold"] = True
    if style.color:
        props["font_color"] = f"#{style.color}"
    if style.fill:
        props.update(pattern=1, bg_color=f"#{style.fill}")
    if style.number_format != "General":
        props["num_format"] = style.number_format
    if style.quote:
        props["quote_prefix"] = True
    align = style.align or ("left" if style.indent else None)
    if align:
        props["align"] = align
    if style.indent:
        props["indent"] = style.indent
    if style.wrap:
        props["text_wrap"] = True
    if style.wrap or style.top:
        props["valign"] = "top"
    return props
