"""A sheet's extent and error cells, read from the workbook's XML before calamine opens it.

calamine allocates the whole rectangle of a sheet (32 bytes a cell) before it returns a row:
one cell at XFD1048576 asks for 512 GB and aborts the process, and an ODS row repeated a
million times becomes a million rows. So the sheet's XML is scanned first, in chunks, for the
cells that carry a value, and an absurd extent is refused with a message. The same pass finds
error cells (``#N/A``, ``#REF!``...), which calamine reads as empty.

    xlsx  targeted searches: only long column letters and long row numbers are looked at, so a
          normal sheet costs one decompression and a few C-level scans
    ods   a streaming parse of content.xml: rows and cells with their repeat counts
    xls   bounded by the format itself (65,536 x 256); checked from calamine's range
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, iterparse

from batchpay.errors import InputError

MAX_ROWS = 1_048_576  # Excel's limit
MAX_COLUMNS = 16_384  # Excel's limit (column XFD)
MAX_CELLS = 10_000_000  # the rectangle from A1 to the last filled row and column
MAX_REPEATS = 1_000  # an ODS row (or cell) holding data, repeated more often, is refused

_CHUNK = 4 * 2**20
_SHEET = re.compile(rb"<sheet\b[^>]*>")
_RELATION = re.compile(rb"<Relationship\b[^>]*>")
_ATTRIBUTE = re.compile(rb'(?:^|\s)([\w:]+)="([^"]*)"')
# Every cell that is not "r first, column A-Z, row below 100,000": rare in a normal sheet, so the
# scan stays one C-level pass; each candidate is then read in full.
_CANDIDATE = re.compile(rb'<c (?!r="[A-Z][0-9]{1,5}")')
_BARE = re.compile(rb"<c>")  # a cell without attributes: rare, searched only when present
_CELL = re.compile(rb"<c\b([^>]*?)(/?)>")
_REF = re.compile(rb'\sr="([A-Z]+)([0-9]+)"')
_ROW = re.compile(rb'<row\s[^>]*?\br="([0-9]+)"')
_ERROR = re.compile(rb'<c r="([A-Z]+)([0-9]+)"[^>]*\bt="e"[^>]*>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?'
                    rb"<v>([^<]*)</v>")  # fmt: skip
_NEAR_ROWS = 99_999  # rows below _FAR's reach
_NARROW = 26  # columns below _WIDE's reach

_ODS = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODS_CALC = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"


@dataclass
class Extent:
    """The last row and column holding a value (1-based), and the error cells found."""

    rows: int = 0
    columns: int = 0
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, 0-based col)


def check_sheet(path: Path, sheet: str) -> Extent:
    """Refuse a sheet of a zipped workbook (xlsx or ods, told by its members, as calamine
    does) whose extent is absurd; return its extent and error cells."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            ods = "content.xml" in names and "xl/workbook.xml" not in names
            extent = _ods(archive, sheet) if ods else _xlsx(archive, sheet)
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, SyntaxError, ValueError):
        return Extent()  # calamine reports what is wrong with the file in its own words
    except InputError as exc:
        raise InputError(f'{path}: sheet "{sheet}": {exc}') from None
    refuse_extent(path, sheet, extent.rows, extent.columns)
    return extent


def refuse_extent(path: Path, sheet: str, rows: int, columns: int) -> None:
    where = f'{path}: sheet "{sheet}"'
    if columns > MAX_COLUMNS:
        raise InputError(f"{where} has {columns:,} columns; batchpay reads at most "
                         f"{MAX_COLUMNS:,} (Excel's limit)")  # fmt: skip
    if rows > MAX_ROWS:
        raise InputError(f"{where} has {rows:,} rows; batchpay reads at most {MAX_ROWS:,} "
                         "(Excel's limit)")  # fmt: skip
    if rows * columns > MAX_CELLS:
        raise InputError(
            f"{where} spans {rows:,} rows x {columns:,} columns (to {column_name(columns)}{rows}); "
            f"batchpay reads at most {MAX_CELLS:,} cells: delete the stray cells far from the "
            "data, or save the data to a new sheet"
        )


def column_name(number: int) -> str:
    """1 -> "A", 27 -> "AA", 16384 -> "XFD"."""
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


# ---------------------------------------------------------------------------------------- xlsx


def _xlsx(archive: zipfile.ZipFile, sheet: str) -> Extent:
    extent = Extent(_NEAR_ROWS, _NARROW)  # what the candidate search leaves out
    for member in _sheet_members(archive, sheet):
        for chunk in _chunks(archive, member):
            bare = _BARE.finditer(chunk) if b"<c>" in chunk else ()
            for found in (*_CANDIDATE.finditer(chunk), *bare):
                row, column = _place(chunk, found.start())
                extent.rows = max(extent.rows, row)
                extent.columns = max(extent.columns, column)
            if b't="e"' in chunk:
                for letters, row_digits, value in _ERROR.findall(chunk):
                    key = (int(row_digits), _column_number(letters) - 1)
                    extent.errors[key] = html.unescape(value.decode("utf-8", "replace"))
    return extent


def _place(chunk: bytes, start: int) -> tuple[int, int]:
    """(row, column) of the cell at ``start``; (0, 0) for an empty one. A cell without ``r``
    sits in its row's ``r``, after the cells before it."""
    cell = _CELL.match(chunk, start)
    if cell is None or cell.group(2):
        return 0, 0
    ref = _REF.search(cell.group(1))
    if ref:
        return int(ref.group(2)), _column_number(ref.group(1))
    row_start = chunk.rfind(b"<row", 0, start)
    row = _ROW.match(chunk, row_start) if row_start >= 0 else None
    if row is None:  # the row began in an earlier chunk: a bound, not the place
        return MAX_ROWS, 0
    return int(row.group(1)), chunk.count(b"<c", row_start, start) + 1


def _sheet_members(archive: zipfile.ZipFile, sheet: str) -> list[str]:
    """The worksheet XML of ``sheet``; every worksheet when the workbook's map is unusual."""
    names = archive.namelist()
    every = [n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    try:
        workbook = archive.read("xl/workbook.xml")
        relations = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return every
    targets: dict[str | None, str] = {}
    for tag in _RELATION.findall(relations):
        attributes = _attributes(tag)
        targets[attributes.get("Id")] = attributes.get("Target", "")
    for tag in _SHEET.findall(workbook):
        attributes = _attributes(tag)
        if attributes.get("name") != sheet:
            continue
        relation = next((v for k, v in attributes.items() if k.endswith(":id")), None)
        target = targets.get(relation, "")
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        return [member] if member in names else every
    return every


def _attributes(tag: bytes) -> dict[str, str]:
    return {
        key.decode(): html.unescape(value.decode("utf-8", "replace"))
        for key, value in _ATTRIBUTE.findall(tag)
    }


def _chunks(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member's bytes in chunks that never cut a tag in two."""
    tail = b""
    with archive.open(member) as handle:
        while chunk := handle.read(_CHUNK):
            data = tail + chunk
            cut = data.rfind(b"<")
            cut = cut if cut > 0 else len(data)
            yield data[:cut]
            tail = data[cut:]
    if tail:
        yield tail


# ----------------------------------------------------------------------------------------- ods


def _ods(archive: zipfile.ZipFile, sheet: str) -> Extent:
    """Stream content.xml: count rows and cells with their repeats, only in ``sheet``."""
    extent = Extent()
    row = 0
    inside = False
    with archive.open("content.xml") as handle:
        for event, element in iterparse(handle, events=("start", "end")):
            if element.tag == f"{_ODS}table":
                inside = event == "start" and element.get(f"{_ODS}name") == sheet
                row = 0
            elif element.tag == f"{_ODS}table-row" and event == "end":
                if inside:
                    row = _ods_row(element, row, extent)
                element.clear()
    return extent


def _ods_row(element: Element, row: int, extent: Extent) -> int:
    repeats = int(element.get(f"{_ODS}number-rows-repeated", "1"))
    column = 0
    filled = 0
    errors: list[tuple[int, str]] = []  # (0-based column, "#N/A"): calamine reads them as ""
    for cell in element:
        times = int(cell.get(f"{_ODS}number-columns-repeated", "1"))
        column += times
        if _has_value(cell):
            if times > MAX_REPEATS:
                raise InputError(f"a cell with a value is repeated {times:,} times "
                                 f"(table:number-columns-repeated) in row {row + 1}")
            filled = column
            if cell.get(f"{_ODS_CALC}value-type") == "error":
                text = "".join("".join(p.itertext()) for p in cell.iter(f"{_ODS_TEXT}p"))
                errors += [(c, text.strip() or "#ERROR!") for c in range(column - times, column)]
    if filled:
        if repeats > MAX_REPEATS:
            raise InputError(f"row {row + 1} is repeated {repeats:,} times "
                             "(table:number-rows-repeated); batchpay expands a row holding data "
                             f"at most {MAX_REPEATS:,} times")  # fmt: skip
        extent.rows = row + repeats
        extent.columns = max(extent.columns, filled)
        for number in range(row + 1, row + repeats + 1) if errors else ():
            extent.errors.update({(number, c): text for c, text in errors})
    return row + repeats


def _has_value(cell: Element) -> bool:
    if cell.get(f"{_ODS_OFFICE}value-type") is not None:
        return True
    return any((p.text or "").strip() or len(p) for p in cell.iter(f"{_ODS_TEXT}p"))
