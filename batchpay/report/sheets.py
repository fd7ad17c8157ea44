"""Row sheets: header bold and frozen, autofilter, estimated widths, streamed rows, split
over several sheets when there are more rows than a sheet holds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, islice
from math import ceil
from typing import Any, TypeVar

from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.page import PageMargins
from openpyxl.xml.functions import Element, SubElement

from .amounts import format_minor, known_currency
from .cells import HEADER_FILL, TECHNICAL_FILL, CellMaker, Money, Style
from .columns import Column

T = TypeVar("T")

EXCEL_MAX_ROWS = 1_048_576
WIDTH_SAMPLE = 200  # rows looked at to size the columns
MIN_WIDTH, MAX_WIDTH = 8, 60
PAGE_WIDTH = 190  # column widths (characters) one landscape page holds at a legible scale
LINE_HEIGHT, MAX_LINES = 15, 12  # points per line of 11-point text; taller rows are cut
TEXT_KINDS = ("text", "ident", "yes_no")
TOP = Style(top=True)  # left-aligned: indented clear of a number before
HEADER_STYLE = Style(bold=True, fill=HEADER_FILL)
TECHNICAL_HEADER_STYLE = Style(bold=True, fill=TECHNICAL_FILL)


def sheet_titles(title: str) -> Iterator[str]:
    """``Posted``, ``Posted (2)``, ``Posted (3)``..."""
    yield title
    n = 2
    while True:
        yield f"{title} ({n})"
        n += 1


@dataclass(frozen=True)
class Heading:
    """What every printed page says at its top and bottom."""

    job: str
    mode: str
    started: datetime


def write_rows(
    wb: Any,
    title: str,
    columns: Sequence[Column[T]],
    items: Iterable[T],
    *,
    max_rows: int = EXCEL_MAX_ROWS,
    tab_color: str | None = None,
    heading: Heading | None = None,
) -> int:
    """Write ``items`` (iterated once) as rows under a header; return the number of rows."""
    if max_rows < 2:
        raise ValueError("max_rows_per_sheet must leave room for a header and one row")
    rows = iter(items)
    sample = list(islice(rows, WIDTH_SAMPLE))
    widths = column_widths(columns, sample)
    rows = chain(sample, rows)
    titles = sheet_titles(title)
    written = 0
    while True:
        ws = _start_sheet(wb, next(titles), columns, widths, tab_color, heading)
        count = _fill(ws, columns, islice(rows, max_rows - 1), widths)
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
        printed = sum(1 for c in columns if not c.technical) or len(columns)
        ws.print_area = f"A1:{get_column_letter(printed)}{count + 1}"
        written += count
        ahead = list(islice(rows, 1)) if count == max_rows - 1 else []
        if not ahead:
            return written
        rows = chain(ahead, rows)


def _start_sheet(
    wb: Any, title: str, columns: Sequence[Column[Any]], widths: list[float],
    tab_color: str | None, heading: Heading | None,
) -> Any:
    ws = wb.create_sheet(title)
    for index, (column, width) in enumerate(zip(columns, widths, strict=True), 1):
        dimension = ws.column_dimensions[get_column_letter(index)]
        dimension.width = width
        if column.technical:  # grouped: one click on the outline folds them away
            dimension.outline_level = 1
    ws.freeze_panes = "A2"
    if tab_color:
        ws.sheet_properties.tabColor = tab_color
    printed = sum(w for c, w in zip(columns, widths, strict=True) if not c.technical)
    landscape(ws, printed)
    ws.print_title_rows = "1:1"
    if printed > PAGE_WIDTH:  # several pages wide: each shows where its rows are
        ws.print_title_cols = f"A:{get_column_letter(_location_count(columns))}"
    if heading:
        page_heading(ws, heading)
    ws._writer = _SheetWriter(ws)  # set up last: it writes the sheet's settings now
    ws._writer.write_top()
    maker = CellMaker(ws)
    ws.append([maker.text(c.header, TECHNICAL_HEADER_STYLE if c.technical else HEADER_STYLE)
               for c in columns])
    return ws


class _SheetWriter(WorksheetWriter):
    """openpyxl's sheet writer, adding ``<ignoredErrors>``: ids and the input's own text are
    text on purpose (the parsed numbers have their own columns), so Excel must not flag
    them "number stored as text"."""

    def write_breaks(self) -> None:
        super().write_breaks()  # ignoredErrors comes right after the breaks in the schema
        errors = Element("ignoredErrors")
        SubElement(errors, "ignoredError", sqref="A1:XFD1048576", numberStoredAsText="1")
        self.xf.send(errors)


def _location_count(columns: Sequence[Column[Any]]) -> int:
    return sum(1 for c in columns[:2] if c.header in ("Sheet", "Row")) or 1


def landscape(ws: Any, width: float) -> None:
    """Print (and convert to PDF) landscape on narrow margins, scaled to fit the page width
    only as far as it stays legible: wider sheets print over as many pages as they need."""
    ws.page_setup.orientation = "landscape"
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.75, bottom=0.75, header=0.3,
                                  footer=0.3)
    ws.page_setup.fitToWidth = max(1, ceil(width / PAGE_WIDTH))
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def page_heading(ws: Any, heading: Heading) -> None:
    """Job and mode at the top of each printed page, sheet name; run time and page numbers
    at the bottom."""
    offset = heading.started.strftime("%z")
    zone = f" UTC{offset[:3]}:{offset[3:]}" if offset else ""
    ws.oddHeader.left.text = _literal(f"batchpay: {heading.job[:80]} ({heading.mode})")
    ws.oddHeader.right.text = "&A"
    ws.oddFooter.left.text = _literal(f"Run started {heading.started:%Y-%m-%d %H:%M}{zone}")
    ws.oddFooter.right.text = "Page &P of &N"


def _literal(text: str) -> str:
    """Header/footer text shown as is ("&" starts a code there)."""
    return text.replace("&", "&&")


def _fill(
    ws: Any, columns: Sequence[Column[T]], items: Iterable[T], widths: Sequence[float]
) -> int:
    """Stream ``items`` as rows. One cell object per column and style is reused row after row:
    openpyxl's write-only sheet writes each row as soon as it is appended, so a row's cells
    only need to live until then. Values are set with the data type the ``*_parts`` methods
    chose (what openpyxl's own binding would choose for them), skipping its per-value
    type checks and the per-cell objects and style copies it would otherwise make.
    A row whose wrapped text needs several lines gets its height (viewers do not work it
    out when they open the file)."""
    maker = CellMaker(ws)
    plan = [(index, *_parts_and_style(maker, c), c.get, c.fill,
             max(1, int(width) - 2) if c.wrap else 0)  # as column_widths allows
            for index, (c, width) in enumerate(zip(columns, widths, strict=True), 1)]
    fills: dict[tuple[str | None, Style], Style] = {}
    slots: dict[tuple[int, int], tuple[Style, Any]] = {}  # (column, id(style)) -> style, cell

    def slot(index: int, style: Style) -> Any:
        entry = slots.get((index, id(style)))
        if entry is None:  # the entry holds the style, so its id cannot be reused
            entry = slots[(index, id(style))] = (style, maker.slot(index, style))
        return entry[1]

    def fill_style(name: str | None, base: Style) -> Style:
        style = fills.get((name, base))
        if style is None:
            style = fills[(name, base)] = replace(base, fill=name) if name else base
        return style

    def positioned(cells: list[Any], row_idx: int) -> list[Any]:
        for cell in cells:
            cell.row = row_idx
        return cells

    count = 0
    ws._values_to_row = positioned  # rows below are lists of ready cells
    try:
        for item in items:
            cells = []
            lines = 1
            for index, parts, base, get, fill, per_line in plan:
                made = parts(get(item), fill_style(fill(item), base) if fill else base)
                if made is None:
                    continue
                value, data_type, style = made
                if per_line and len(value) > per_line:
                    lines = max(lines, min(MAX_LINES, ceil(len(value) / per_line)))
                cell = slot(index, style)
                cell._value = value
                cell.data_type = data_type
                cells.append(cell)
            if lines > 1:
                ws.row_dimensions[count + 2].height = LINE_HEIGHT * lines
            ws.append(cells)
            if lines > 1:
                del ws.row_dimensions[count + 2]  # written: keep no per-row state
            count += 1
    finally:
        del ws._values_to_row
    return count


def _parts_and_style(maker: CellMaker, column: Column[Any]) -> tuple[Any, Style]:
    """The column's ``*_parts`` method and base style; an id column's text format is worked
    out here once rather than for every cell."""
    if column.kind == "ident":
        return maker.text_parts, maker.ident_style(_base_style(column))
    return getattr(maker, f"{column.kind}_parts"), _base_style(column)


def _base_style(column: Column[Any]) -> Style:
    if column.kind in TEXT_KINDS:
        return Style(wrap=column.wrap, indent=1, top=True)
    return TOP


def column_widths(columns: Sequence[Column[T]], sample: Sequence[T]) -> list[float]:
    """Width per column from its header and a sample of its values, in characters."""
    widths = []
    for column in columns:
        longest = max((text_width(shown(column.get(item))) for item in sample), default=0)
        header = text_width(column.header) * 1.1 + 3  # bold, and room for the filter button
        widths.append(float(round(min(MAX_WIDTH, max(MIN_WIDTH, header, longest + 2)))))
    return widths


def text_width(text: str) -> float:
    """Width in Excel's units (the digit "0"): capitals and "m"/"w" are wider than digits."""
    return len(text) + 0.3 * sum(1 for ch in text if ch.isupper() or ch in "mwMW@%")


def shown(value: Any) -> str:
    """Roughly the text a cell shows, to size its column."""
    if value is None:
        return ""
    if isinstance(value, Money):
        if value.minor is None:
            return ""
        return format_minor(value.minor, known_currency(value.currency))
    if isinstance(value, datetime):
        return "0000-00-00" if value.time() == datetime.min.time() else "0000-00-00 00:00:00"
    if isinstance(value, bool):
        return "yes"
    return str(value)
