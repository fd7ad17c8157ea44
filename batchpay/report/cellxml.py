"""Cells written straight into XlsxWriter's row stream (``constant_memory``).

XlsxWriter writes the package (styles, page set-up, names, properties, the zip); the cells are
rendered here, as the XML XlsxWriter itself writes for a plain cell, for two reasons:

- speed: XlsxWriter's writers cost about as much per cell as openpyxl's (a type check and a
  table entry per cell, then three regular expressions and an escape per cell when the row is
  flushed); here a cell is one lookup and one f-string (about 4x less for a row sheet);
- safety: in ``constant_memory`` mode its ``write_string`` copies a string that starts with
  ``<r>`` and ends with ``</r>`` into the XML unescaped (its rich-string shortcut), and an
  input value can be such a string. Here every string is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from .cells import BLANK, CellMaker, Parts

_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # CR among them: XML would turn it into LF
_ESCAPE_LIKE = re.compile(r"(_x[0-9a-fA-F]{4}_)")  # Excel reads "_x000D_" as an escape


def xml_text(text: str) -> str:
    """``text`` as a cell's XML holds it: control characters as Excel's ``_xHHHH_`` escapes
    (a literal ``_xHHHH_`` escaped in turn), then ``& < >`` as entities."""
    if not _SPECIAL.search(text):
        return text
    text = _ESCAPE_LIKE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda match: f"_x{ord(match.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


Tags = tuple[str, str, str, str]  # before the row number, after it, after it to keep spaces, end


class StreamedSheet(Worksheet):
    """A ``constant_memory`` worksheet whose rows are added whole, in order, as cell XML.
    XlsxWriter makes the instance (``add_worksheet(worksheet_class=...)``): call ``start``."""

    def start(self, cells: CellMaker) -> StreamedSheet:
        if not self.constant_memory:
            raise ValueError("StreamedSheet needs the workbook's constant_memory mode")
        self.cells = cells
        self._tags: dict[tuple[int, int, str], Tags] = {}
        self._rows_added = 0
        return self

    def add_row(self, row: int, parts: Sequence[Parts | None], height: float | None = None,
                ) -> None:
        """Row ``row`` (zero-based) with a cell per column, None where there is none."""
        written = [(col, p) for col, p in enumerate(parts) if p is not None]
        xml = [self.cell_xml(col, row, p) for col, p in written]
        if written:
            self.add_row_xml(row, xml, written[0][0], written[-1][0], height)

    def add_row_xml(self, row: int, cells: list[str], first: int, last: int,
                    height: float | None = None) -> None:
        """Row ``row`` (zero-based, below every row added so far) from ``cell_xml`` strings
        of columns ``first`` to ``last``; a ``height`` in points when it must be taller."""
        if row < self._rows_added:
            raise ValueError(f"row {row + 1} comes after row {self._rows_added}")
        self._rows_added = row + 1
        self._check_dimensions(row, first)  # XlsxWriter's <dimension> of the sheet
        self._check_dimensions(row, last)
        tall = f' ht="{height:g}" customHeight="1"' if height else ""
        self.row_data_fh.write(f'<row r="{row + 1}"{tall}>{"".join(cells)}</row>')

    def cell_xml(self, col: int, row: int, parts: Parts) -> str:
        """One ``<c>`` element: text inline, numbers and dates as numbers, with the format
        of the cell's style (as XlsxWriter's ``write_string``/``write_number``... write it)."""
        value, kind, style = parts
        key = (col, id(style), kind)  # the maker's format cache keeps ``style`` alive
        tags = self._tags.get(key)
        if tags is None:
            tags = self._tags[key] = self._make_tags(col, style, kind)
        head, middle, keep_spaces, end = tags
        if kind == "s":
            text = xml_text(value)
            if text[:1].isspace() or text[-1:].isspace():
                return f"{head}{row + 1}{keep_spaces}{text}{end}"
            return f"{head}{row + 1}{middle}{text}{end}"
        if kind == "d":
            value = self._convert_date_time(value)
        elif kind == "b":
            value = int(value)
        elif kind == BLANK:
            return f"{head}{row + 1}{middle}"
        return f"{head}{row + 1}{middle}{value:.16G}{end}"

    def _make_tags(self, col: int, style: Any, kind: str) -> Tags:
        fmt = self.cells.format(style)
        s = f' s="{fmt._get_xf_index()}"' if fmt is not None else ""
        head = f'<c r="{xl_col_to_name(col)}'
        if kind == "s":
            return (head, f'"{s} t="inlineStr"><is><t>',
                    f'"{s} t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>")
        if kind == "b":
            return head, f'"{s} t="b"><v>', "", "</v></c>"
        if kind == BLANK:
            return head, f'"{s}/>', "", ""
        return head, f'"{s}><v>', "", "</v></c>"
