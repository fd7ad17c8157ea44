"""Row sheets: header bold and frozen, autofilter, estimated widths, streamed rows, split
over several sheets when there are more rows than a sheet holds. Written with XlsxWriter in
``constant_memory`` mode: each row goes to disk as soon as the next one starts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, islice
from math import ceil
from typing import Any, TypeVar

from .amounts import format_minor, known_currency
from .cells import HEADER_FILL, TECHNICAL_FILL, CellMaker, Money, Style
from .cellxml import StreamedSheet
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
    cells: CellMaker,
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
        ws = _start_sheet(cells, next(titles), columns, widths, tab_color, heading)
        count = _fill(ws, cells, columns, islice(rows, max_rows - 1), widths)
        ws.autofilter(0, 0, count, len(columns) - 1)
        printed = sum(1 for c in columns if not c.technical) or len(columns)
        ws.print_area(0, 0, count, printed - 1)
        written += count
        ahead = list(islice(rows, 1)) if count == max_rows - 1 else []
        if not ahead:
            return written
        rows = chain(ahead, rows)


def _start_sheet(
    cells: CellMaker, title: str, columns: Sequence[Column[Any]], widths: list[float],
    tab_color: str | None, heading: Heading | None,
) -> Any:
    ws = add_sheet(cells, title)
    for index, (column, width) in enumerate(zip(columns, widths, strict=True)):
        # grouped: one click on the outline folds them away
        set_width(ws, index, width, level=1 if column.technical else 0)
    ws.freeze_panes(1, 0)
    if tab_color:
        ws.set_tab_color(f"#{tab_color}")
    printed = sum(w for c, w in zip(columns, widths, strict=True) if not c.technical)
    landscape(ws, printed)
    ws.repeat_rows(0)
    if printed > PAGE_WIDTH:  # several pages wide: each shows where its rows are
        ws.repeat_columns(0, _location_count(columns) - 1)
    if heading:
        page_heading(ws, heading)
    # ids and the input's own text are text on purpose (the parsed numbers have their own
    # columns): Excel must not flag them "number stored as text"
    ws.ignore_errors({"number_stored_as_text": "A1:XFD1048576"})
    ws.add_row(0, [cells.text(c.header, TECHNICAL_HEADER_STYLE if c.technical else HEADER_STYLE)
                   for c in columns])
    return ws


def add_sheet(cells: CellMaker, title: str) -> StreamedSheet:
    sheet: StreamedSheet = cells.wb.add_worksheet(title, worksheet_class=StreamedSheet)
    return sheet.start(cells)


def set_width(ws: Any, index: int, width: float, level: int = 0) -> None:
    """Column ``index`` (zero-based) ``width`` characters wide, as stored in the file: given in
    pixels (7 per character), XlsxWriter stores the width itself rather than adding padding."""
    options = {"level": level} if level else None
    ws.set_column_pixels(index, index, round(width * 7), None, options)


def _location_count(columns: Sequence[Column[Any]]) -> int:
    return sum(1 for c in columns[:2] if c.header in ("Sheet", "Row")) or 1


def landscape(ws: Any, width: float) -> None:
    """Print (and convert to PDF) landscape on narrow margins, scaled to fit the page width
    only as far as it stays legible: wider sheets print over as many pages as they need."""
    ws.set_landscape()
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.75)  # header, footer: 0.3
    ws.fit_to_pages(max(1, ceil(width / PAGE_WIDTH)), 0)


def page_heading(ws: Any, heading: Heading) -> None:
    """Job and mode at the top of each printed page, sheet name; run time and page numbers
    at the bottom."""
    offset = heading.started.strftime("%z")
    zone = f" UTC{offset[:3]}:{offset[3:]}" if offset else ""
    job = _literal(f"batchpay: {heading.job[:80]} ({heading.mode})")
    ws.set_header(f"&L{job}&R&A")
    ws.set_footer(f"&L{_literal(f'Run started {heading.started:%Y-%m-%d %H:%M}{zone}')}"
                  "&RPage &P of &N")


def _literal(text: str) -> str:
    """Header/footer text shown as is ("&" starts a code there). XlsxWriter takes "&G" and
    "&[Picture]" for image places (and drops a header whose images it lacks), so an "&"
    before those is shown as a full-width ampersand."""
    return re.sub(r"&(?=G|\[Picture\])", "\uff06", text).replace("&", "&&")


def _fill(
    ws: StreamedSheet, cells: CellMaker, columns: Sequence[Column[T]], items: Iterable[T],
    widths: Sequence[float],
) -> int:
    """Stream ``items`` as rows, each value of the kind and style its ``*_parts`` method
    chose. A row whose wrapped text needs several lines gets its height (viewers do not work
    it out when they open the file)."""
    plan = [(index, *_parts_and_style(cells, c), c.get, c.fill,
             max(1, int(width) - 2) if c.wrap else 0)  # as column_widths allows
            for index, (c, width) in enumerate(zip(columns, widths, strict=True))]
    fills: dict[tuple[str | None, Style], Style] = {}
    cell_xml, add_row_xml = ws.cell_xml, ws.add_row_xml

    def fill_style(name: str | None, base: Style) -> Style:
        style = fills.get((name, base))
        if style is None:
            style = fills[(name, base)] = replace(base, fill=name) if name else base
        return style

    count = 0
    for item in items:
        row = count + 1
        lines = 1
        xml = []
        first = last = -1
        for index, parts, base, get, fill, per_line in plan:
            made = parts(get(item), fill_style(fill(item), base) if fill else base)
            if made is None:
                continue
            if per_line and len(made[0]) > per_line:
                lines = max(lines, min(MAX_LINES, ceil(len(made[0]) / per_line)))
            xml.append(cell_xml(index, row, made))
            if first < 0:
                first = index
            last = index
        if xml:
            add_row_xml(row, xml, first, last, LINE_HEIGHT * lines if lines > 1 else None)
        count += 1
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
