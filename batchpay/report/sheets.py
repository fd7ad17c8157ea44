"""Row sheets: header bold and frozen, autofilter, estimated widths, streamed rows, split
over several sheets when there are more rows than a sheet holds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain, islice
from typing import Any, TypeVar

from openpyxl.utils import get_column_letter

from .amounts import format_minor, known_currency
from .cells import HEADER_FILL, PLAIN, CellMaker, Money, Style
from .columns import Column

T = TypeVar("T")

EXCEL_MAX_ROWS = 1_048_576
WIDTH_SAMPLE = 200  # rows looked at to size the columns
MIN_WIDTH, MAX_WIDTH = 8, 60
HEADER_STYLE = Style(bold=True, fill=HEADER_FILL)


def sheet_titles(title: str) -> Iterator[str]:
    """``Posted``, ``Posted (2)``, ``Posted (3)``..."""
    yield title
    n = 2
    while True:
        yield f"{title} ({n})"
        n += 1


def write_rows(
    wb: Any,
    title: str,
    columns: Sequence[Column[T]],
    items: Iterable[T],
    *,
    max_rows: int = EXCEL_MAX_ROWS,
    tab_color: str | None = None,
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
        ws = _start_sheet(wb, next(titles), columns, widths, tab_color)
        count = _fill(ws, columns, islice(rows, max_rows - 1))
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
        written += count
        ahead = list(islice(rows, 1)) if count == max_rows - 1 else []
        if not ahead:
            return written
        rows = chain(ahead, rows)


def _start_sheet(
    wb: Any, title: str, columns: Sequence[Column[Any]], widths: list[float],
    tab_color: str | None,
) -> Any:
    ws = wb.create_sheet(title)
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    if tab_color:
        ws.sheet_properties.tabColor = tab_color
    landscape(ws)
    ws.print_title_rows = "1:1"
    maker = CellMaker(ws)
    ws.append([maker.text(c.header, HEADER_STYLE) for c in columns])
    return ws


def landscape(ws: Any) -> None:
    """Print (and convert to PDF) landscape, all columns on one page width."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _fill(ws: Any, columns: Sequence[Column[T]], items: Iterable[T]) -> int:
    """Stream ``items`` as rows. One cell object per column and style is reused row after row:
    openpyxl's write-only sheet writes each row as soon as it is appended, so a row's cells
    only need to live until then. Values are set with the data type the ``*_parts`` methods
    chose (what openpyxl's own binding would choose for them), skipping its per-value
    type checks and the per-cell objects and style copies it would otherwise make."""
    maker = CellMaker(ws)
    plan = [(index, getattr(maker, f"{c.kind}_parts"), c.get, c.fill)
            for index, c in enumerate(columns, 1)]
    fills: dict[str | None, Style] = {}
    slots: dict[tuple[int, int], tuple[Style, Any]] = {}  # (column, id(style)) -> style, cell

    def slot(index: int, style: Style) -> Any:
        entry = slots.get((index, id(style)))
        if entry is None:  # the entry holds the style, so its id cannot be reused
            entry = slots[(index, id(style))] = (style, maker.slot(index, style))
        return entry[1]

    def fill_style(name: str | None) -> Style:
        style = fills.get(name)
        if style is None:
            style = fills[name] = Style(fill=name) if name else PLAIN
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
            for index, parts, get, fill in plan:
                made = parts(get(item), fill_style(fill(item)) if fill else PLAIN)
                if made is None:
                    continue
                value, data_type, style = made
                cell = slot(index, style)
                cell._value = value
                cell.data_type = data_type
                cells.append(cell)
            ws.append(cells)
            count += 1
    finally:
        del ws._values_to_row
    return count


def column_widths(columns: Sequence[Column[T]], sample: Sequence[T]) -> list[float]:
    """Width per column from its header and a sample of its values, in characters."""
    widths = []
    for column in columns:
        longest = max((len(shown(column.get(item))) for item in sample), default=0)
        header = len(column.header) + 3  # room for the filter button
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, header, longest + 2))))
    return widths


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
