"""Text-first readers: every cell is a ``str``, every row keeps the place it came from.

    read_table ─┬─ _csv_records    stdlib csv; the physical file line each record starts on
                └─ _sheet_records  python-calamine; the sheet row number Excel shows
                        │
                   _assemble       header, blank/footer/marker rows, field counts -> Table

Nothing is inferred: leading zeros, 20-digit references and date-looking text stay as they are.
Every failure is an ``InputError`` whose one-line message names the file and the place.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import math
import re
import stat
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
import python_calamine

from batchpay.errors import InputError, SpecError
from batchpay.extent import MAX_CELLS, MAX_COLUMNS, MAX_ROWS, check_sheet, refuse_extent
from batchpay.fixsheet import fix_sheet_input, fix_sheet_note, is_fix_workbook
from batchpay.patterns import PatternError, compile_pattern, searches
from batchpay.records import CellFailure, Origin
from batchpay.repair import append_continuations, capped, lenient_note, split_lenient
from batchpay.spec import InputSpec
from batchpay.statements import COLUMNS as STATEMENT_COLUMNS
from batchpay.statements import FORMATS as STATEMENT_FORMATS
from batchpay.statements import detect as detect_statement
from batchpay.statements import read_statement

FIX_SHEET = "Fix and re-upload"

MAX_FIELD_CHARS = 131_072  # one CSV field; beyond this it is an unclosed quote or not a CSV
MAX_LINE_BYTES = 2**20  # one physical CSV line; checked before the text is decoded or split
MAX_FILE_BYTES = 500 * 2**20  # any input file
MAX_UNPACKED_BYTES = 500 * 2**20  # a workbook's declared uncompressed size (zip bombs)

_ZIP = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"
_OLE = b"\xd0\xcf\x11\xe0"
_ODS_MIMETYPE = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_EXTENSIONS = {
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xltx": "xlsx", ".xltm": "xlsx",
    ".xls": "xls", ".ods": "ods",
}  # fmt: skip
# By codec name, most likely first: Excel on Windows writes cp1252, rarely true latin-1.
_SUGGESTED = {"cp1252": "cp1252", "iso8859-1": "latin-1", "utf-8-sig": "utf-8"}
# ISO 8859 codecs and the Windows code page that puts printable characters where they have
# invisible C1 controls (bytes 0x80-0x9f): such bytes mean the file is really the Windows one.
_WINDOWS_TWIN = {"iso8859-1": "cp1252", "iso8859-15": "cp1252", "iso8859-2": "cp1250",
                 "iso8859-13": "cp1257"}  # fmt: skip
_C1_BYTE = re.compile(rb"[\x80-\x9f]")

Record = tuple[int, list[str]]  # (1-based line or sheet row, cells)
# What Excel, Google Sheets and LibreOffice show (and write to CSV) for a formula that failed.
SPREADSHEET_ERRORS = frozenset({
    "#N/A", "#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
    "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#GETTING_DATA", "#ERROR!",
    *(f"Err:{code}" for code in range(500, 600)),  # LibreOffice
})  # fmt: skip
SIGNIFICANT_DIGITS = 15  # what a spreadsheet number holds exactly
_INEXACT = (f"has more than {SIGNIFICANT_DIGITS} significant digits, more than a spreadsheet "
            "number holds exactly, so it may not be the number typed")  # fmt: skip
_INEXACT_EXPECTED = (f"at most {SIGNIFICANT_DIGITS} significant digits, or the value stored as "
                     "text")  # fmt: skip
MAX_LISTED = 30  # column names listed in a message; the rest counted
MAX_DROPPED_NOTES = 20  # dropped rows named one by one in the run notes; the rest counted


@dataclass(frozen=True)
class DroppedRow:
    """A row read but never parsed: a footer (skip_footer) or a marker (drop_rows_matching)."""

    origin: Origin
    option: str  # the input option that dropped it
    text: str  # its filled cells, joined by " | "

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 100 else f"{self.text[:80]}…"
        return f'{self.origin} dropped by {self.option}: "{text}"'


@dataclass
class Table:
    """A file read as text. ``frame.index`` holds each row's line (CSV) or sheet row number."""

    frame: pd.DataFrame
    columns: tuple[str, ...]
    format: str
    sheet: str | None
    path: Path
    dropped: tuple[DroppedRow, ...] = ()  # footer and marker rows, so none vanishes silently
    failures: dict[int, tuple[CellFailure, ...]] = field(default_factory=dict)  # invalid rows
    notes: tuple[str, ...] = ()  # what a statement reader set apart or found odd (reversals)

    def origin(self, row: int) -> Origin:
        return Origin(row, self.sheet)

    def dropped_notes(self) -> list[str]:
        """Run notes naming each dropped row (the first MAX_DROPPED_NOTES, then a count)."""
        notes = list(self.notes) + [str(row) for row in self.dropped[:MAX_DROPPED_NOTES]]
        if len(self.dropped) > MAX_DROPPED_NOTES:
            more = len(self.dropped) - MAX_DROPPED_NOTES
            notes.append(f"and {more} more rows dropped by skip_footer/drop_rows_matching")
        return notes


def read_table(
    path: str | Path, spec: InputSpec, *, required_columns: Sequence[str] = ()
) -> Table:
    """Read a CSV or spreadsheet as text, as ``spec`` describes it."""
    path = Path(path)
    _refuse_unreadable(path)
    fix = is_fix_workbook(path)
    if fix:  # batchpay's own report, sent back after fixing
        spec = fix_sheet_input(spec)
    fmt = spec.format or detect_format(path)
    if fmt in STATEMENT_FORMATS:
        return _statement_table(path, spec, fmt, required_columns)
    sheet: _Sheet | None = None
    notes: list[str] = []  # lines the lenient quoting or continuation_when_empty repaired
    if fmt == "csv":
        records = _csv_records(path, spec, notes)
    else:
        sheet = _sheet_records(path, spec, fmt)
        records = sheet.records
    name = sheet.name if sheet else None
    notes[:0] = [fix_sheet_note()] if fix else []
    notes += [sheet.note] if sheet and sheet.note else []
    assembled = _assemble(path, spec, records, name, notes, sheet.inexact if sheet else {})
    frame = _frame(assembled.rows, assembled.columns)
    failures = _unreadable_cells(assembled, frame, required_columns or assembled.columns, name)
    table = Table(frame, tuple(assembled.columns), fmt, name, path, assembled.dropped, failures,
                  tuple(notes))  # fmt: skip
    if required_columns:
        _check_required(path, table, required_columns, assembled.header_at)
    return table


def detect_format(path: Path) -> str:
    """"csv", "xlsx", "xls", "ods" or a statement format ("camt053", "mt940", "bai2", "ofx"):
    by magic bytes and content first, then extension, else csv."""
    head = _head(Path(path), 4096)
    if head.startswith((_ZIP, _EMPTY_ZIP)):
        return "ods" if head[30:].startswith(_ODS_MIMETYPE) or _zip_is_ods(path) else "xlsx"
    if head.startswith(_OLE):
        return "xls"
    return detect_statement(head) or _EXTENSIONS.get(Path(path).suffix.lower(), "csv")


def _statement_table(
    path: Path, spec: InputSpec, fmt: str, required_columns: Sequence[str]
) -> Table:
    """A statement's payments as a table of fixed columns (batchpay.statements.COLUMNS)."""
    encoding = spec.encoding if "encoding" in spec.model_fields_set else None
    statement = read_statement(str(path), _read_bytes(path), fmt, encoding)
    rows = [(entry.line, entry.cells()) for entry in statement.entries]
    table = Table(_frame(rows, list(STATEMENT_COLUMNS)), STATEMENT_COLUMNS, fmt, None, path,
                  notes=tuple(statement.notes))  # fmt: skip
    if required_columns:
        _check_required(path, table, required_columns, None)
    return table


def _zip_is_ods(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            mimetype = archive.read("mimetype") if "mimetype" in archive.namelist() else b""
    except (zipfile.BadZipFile, OSError, RuntimeError):
        return False
    return mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet")


# ---------------------------------------------------------------------------------------- CSV


def _csv_records(path: Path, spec: InputSpec, notes: list[str]) -> list[Record]:
    data = _read_bytes(path)
    _refuse_non_text(path, data, spec.encoding)
    _refuse_long_lines(path, data)
    lines = _Lines(_text_lines(path, data, spec.encoding), spec.skip_lines, spec.comment_prefix,
                   spec.skip_blank_rows)  # fmt: skip
    if spec.quoting == "lenient":
        return _lenient_records(path, spec, lines, notes) or _nothing(path, spec, data)
    try:
        reader = csv.reader(lines, delimiter=spec.delimiter, quotechar=spec.quotechar, strict=True)
    except (TypeError, csv.Error) as exc:
        raise SpecError(f"input: delimiter/quotechar cannot be used: {exc}") from None
    records: list[Record] = []
    blank = 0
    cells_read = 0
    with _field_limit(MAX_FIELD_CHARS):
        try:
            for cells in reader:
                lines.at_record_start = True
                if _is_blank(cells) and (spec.skip_blank_rows or (spec.header and not records)):
                    blank += 1  # passed over as it goes by: 20 MB of blank lines hold nothing
                    continue
                cells_read += len(cells)
                if len(cells) > MAX_COLUMNS or len(records) > MAX_ROWS or cells_read > MAX_CELLS:
                    _refuse_too_many(path, lines.record_start, len(cells), len(records),
                                     cells_read)  # fmt: skip
                records.append((lines.record_start, cells))
        except csv.Error as exc:
            raise InputError(f"{path}: line {lines.record_start}: {_csv_problem(exc)}") from None
    if not records and not blank and not lines.blank:
        raise InputError(_nothing_left(path, spec.skip_lines, "lines", data))
    return records


def _lenient_records(path: Path, spec: InputSpec, lines: _Lines, notes: list[str]
                     ) -> list[Record]:  # fmt: skip
    """input.quoting: lenient: bare quotes inside quoted fields are text; each such line noted."""
    records: list[Record] = []
    repaired: list[str] = []
    for line in lines:
        try:
            cells, bare = split_lenient(line, lambda: next(lines, None), spec.delimiter,
                                        spec.quotechar, MAX_FIELD_CHARS)  # fmt: skip
        except InputError as exc:
            raise InputError(f"{path}: line {lines.record_start}: {exc}") from None
        records.append((lines.record_start, cells))
        lines.at_record_start = True
        if bare:
            repaired.append(lenient_note(Origin(lines.record_start), line))
    notes += capped(repaired, "lines with quotes read as text")
    return records


def _nothing(path: Path, spec: InputSpec, data: bytes) -> list[Record]:
    raise InputError(_nothing_left(path, spec.skip_lines, "lines", data))


def _refuse_too_many(path: Path, line: int, fields: int, rows: int, cells: int) -> None:
    if fields > MAX_COLUMNS:
        raise InputError(f"{path}: line {line} has {fields:,} fields; batchpay reads at most "
                         f"{MAX_COLUMNS:,} columns (Excel's limit)")  # fmt: skip
    if rows > MAX_ROWS:  # rows read so far, the header included
        raise InputError(f"{path}: line {line}: more than {MAX_ROWS:,} rows; batchpay reads at "
                         "most that many (Excel's limit): split the file")  # fmt: skip
    if cells > MAX_CELLS:
        raise InputError(f"{path}: line {line}: more than {MAX_CELLS:,} cells; batchpay reads at "
                         "most that many: split the file")  # fmt: skip


_LINE_BREAKS = frozenset({"\n", "\r\n", "\r"})


class _Lines:
    """Physical lines for csv.reader, counting them and hiding the preamble and comments."""

    def __init__(self, lines: Iterator[str], skip: int, comment_prefix: str | None,
                 skip_blank: bool = False) -> None:  # fmt: skip
        self._lines = lines
        self._comment = comment_prefix or None
        self._skip_blank = skip_blank
        self.blank = 0  # empty lines passed over between records (skip_blank)
        self.number = 0  # physical lines consumed so far
        self.record_start = 1
        self.at_record_start = True
        for _ in range(skip):
            if next(self._lines, None) is None:
                break
            self.number += 1

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            line = next(self._lines)
            self.number += 1
            if not self.at_record_start:
                return line  # a quoted field's continuation, never a comment
            if self._comment and line.startswith(self._comment):
                continue
            if self._skip_blank and line in _LINE_BREAKS:  # never reaches the csv module
                self.blank += 1
                continue
            self.record_start = self.number
            self.at_record_start = False
            return line


def _read_bytes(path: Path) -> bytes:
    """The whole file, never more than MAX_FILE_BYTES even if it grows while being read."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(_os_problem(path, exc)) from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(_too_big(path))
    return data


def _refuse_unreadable(path: Path) -> None:
    """Only a regular file, of at most MAX_FILE_BYTES: /dev/zero behind a symlink would be read
    until memory runs out, and a named pipe would block on open."""
    try:
        info = path.stat()  # follows symlinks: the file the link points at
    except OSError as exc:
        raise InputError(_os_problem(path, exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: is not a regular file (a device, pipe or socket); batchpay "
                         "reads files only")  # fmt: skip
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(_too_big(path, info.st_size))


def _too_big(path: Path, size: int | None = None) -> str:
    shown = f"{size // 2**20} MB" if size is not None else "over the limit"
    return f"{path}: the file is {shown}; batchpay reads files up to {MAX_FILE_BYTES // 2**20} MB"


def _refuse_non_text(path: Path, data: bytes, encoding: str) -> None:
    if data.startswith((_ZIP, _EMPTY_ZIP, _OLE)):
        kind = "an xls" if data.startswith(_OLE) else "an xlsx or ods"
        raise InputError(
            f"{path}: looks like {kind} workbook, not CSV text; set input.format (or leave it "
            "unset to detect it)"
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not _is_wide(encoding):
        raise InputError(f"{path}: the file is UTF-16 text; set input.encoding: utf-16")
    nul = data.find(b"\x00")
    if nul >= 0 and not _is_wide(encoding):
        if wide := _utf16_without_bom(data):
            raise InputError(f"{path}: the file is UTF-16 text without a byte-order mark; set "
                             f"input.encoding: {wide}")  # fmt: skip
        line = data.count(b"\n", 0, nul) + 1
        raise InputError(
            f"{path}: line {line} contains NUL bytes; this is a binary file, not CSV text"
        )


def _utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le" when every other byte is NUL (ASCII text in UTF-16), "utf-16-be" likewise."""
    sample = data[:4096]
    first, second = sample[0::2], sample[1::2]
    if len(second) < 2:
        return None
    if second.count(0) >= 0.9 * len(second) and first.count(0) <= 0.1 * len(first):
        return "utf-16-le"
    if first.count(0) >= 0.9 * len(first) and second.count(0) <= 0.1 * len(second):
        return "utf-16-be"
    return None


def _refuse_long_lines(path: Path, data: bytes) -> None:
    """Refuse a line of a megabyte or more before it is decoded and split (a 100 MB line).

    Any line of 2 * MAX_LINE_BYTES covers a whole window of MAX_LINE_BYTES, so looking for a
    window without a line break finds it in a few C-level scans per megabyte.
    """
    for start in range(0, len(data), MAX_LINE_BYTES):
        end = start + MAX_LINE_BYTES
        if end > len(data):
            return
        if data.find(b"\n", start, end) < 0 and data.find(b"\r", start, end) < 0:
            line = data.count(b"\n", 0, start) + 1
            raise InputError(
                f"{path}: line {line} is longer than {MAX_LINE_BYTES // 2**20} MB; "
                "this is not a CSV export (or its line breaks are missing)"
            )


def _is_wide(encoding: str) -> bool:
    return encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32"))


def _text_lines(path: Path, data: bytes, encoding: str) -> Iterator[str]:
    """The file's physical lines, decoded as they are read (StringIO over the whole text would
    hold it as 4 bytes a character: a 100 MB file took 380 MB more)."""
    codec = _decode(path, data, encoding)
    return iter(io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline=""))


def _decode(path: Path, data: bytes, encoding: str) -> str:
    """Check that the whole file decodes; return the codec to read it with."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise SpecError(f"input.encoding: unknown encoding {encoding!r}") from None
    if codec == "utf-8":
        codec = "utf-8-sig"  # accept a BOM
    try:
        data.decode(codec)  # every byte checked once, up front, for a message naming the line
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        others = " or ".join([name for c, name in _SUGGESTED.items() if c != codec][:2])
        raise InputError(
            f"{path}: line {line} is not valid {encoding} (byte 0x{data[exc.start]:02x}); "
            f"set input.encoding, e.g. {others}"
        ) from None
    _refuse_c1_controls(path, data, codec, encoding)
    return codec


def _refuse_c1_controls(path: Path, data: bytes, codec: str, encoding: str) -> None:
    """latin-1 reads every byte, but 0x80-0x9f as invisible controls: cp1252's € – ‘ ’ …"""
    twin = _WINDOWS_TWIN.get(codec)
    found = _C1_BYTE.search(data) if twin else None
    if twin is None or found is None:
        return
    byte = data[found.start()]
    line = data.count(b"\n", 0, found.start()) + 1
    meant = bytes([byte]).decode(twin, errors="replace")
    shown = f' but "{meant}" in {twin}' if meant != "\ufffd" else ""
    raise InputError(
        f"{path}: line {line} has byte 0x{byte:02x}, an invisible control character in "
        f"{encoding}{shown}; the file is most likely {twin} (Windows) text: set "
        f"input.encoding: {twin}"
    )


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_problem(exc: csv.Error) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return f"a field is longer than {MAX_FIELD_CHARS} characters (an unclosed quote?)"
    if "unexpected end of data" in message:
        return "a quoted field is never closed"
    return f"cannot be read as CSV ({message})"


# --------------------------------------------------------------------------------- spreadsheets


@dataclass(frozen=True)
class _Sheet:
    records: list[Record]
    name: str
    inexact: dict[tuple[int, int], str]  # (row, 0-based column) -> a number's full digits
    note: str | None  # a sheet read or passed over that the user should hear about


def _sheet_records(path: Path, spec: InputSpec, fmt: str, *, keep_blank: bool = False) -> _Sheet:
    _check_workbook(path, fmt)
    workbook = _open_workbook(path)
    names = list(workbook.sheet_names)
    name = _sheet_name(path, spec.sheet, names)
    zipped = _head(path, 4).startswith(_ZIP)  # by content: input.format may name another
    errors = check_sheet(path, name).errors if zipped else {}
    try:
        sheet = workbook.get_sheet_by_name(name)
        if not zipped and sheet.end is not None:  # xls: the format caps it at 65,536 x 256
            refuse_extent(path, name, sheet.end[0] + 1, sheet.end[1] + 1)
        rows = sheet.to_python(skip_empty_area=False)
    except InputError:
        raise
    except BaseException as exc:
        _reraise_unless_calamine(exc)
        raise InputError(f'{path}: sheet "{name}" cannot be read: {_one_line(exc)}') from None
    if not rows:
        raise InputError(f'{path}: sheet "{name}" is empty')
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (row, column), value in errors.items():
        by_row.setdefault(row, []).append((column, value))
    records, inexact = _sheet_rows(rows, spec, by_row, keep_blank)
    if not records and len(rows) <= spec.skip_lines:
        raise InputError(f'{path}: sheet "{name}" has nothing after row {spec.skip_lines} '
                         f"(skip_lines: {spec.skip_lines})")
    return _Sheet(records, name, inexact, _passed_over(spec, names))


def _sheet_rows(
    rows: list[list[Any]], spec: InputSpec, errors: dict[int, list[tuple[int, str]]],
    keep_blank: bool,
) -> tuple[list[Record], dict[tuple[int, int], str]]:
    """Rows as text, blank ones dropped as they go by (a sheet may be mostly empty rows)
    unless ``keep_blank`` (batchpay init counts every row)."""
    records: list[Record] = []
    inexact: dict[tuple[int, int], str] = {}
    # skip_empty_area=False starts at A1, so list position + 1 is Excel's row number.
    for number in range(spec.skip_lines + 1, len(rows) + 1):
        row = rows[number - 1]
        rows[number - 1] = []  # free the row as soon as it is read
        cells: list[str] = []
        for column, cell in enumerate(row):
            if type(cell) is str:
                cells.append(cell)
            elif type(cell) is float:  # its text and whether it is inexact, worked out once
                text, too_precise = _float_reading(cell)
                cells.append(text)
                if too_precise:
                    inexact[(number, column)] = text
            else:
                cells.append(_cell_text(cell))
        for column, value in errors.get(number, ()):  # calamine reads "#N/A" as ""
            if column < len(cells) and not cells[column]:
                cells[column] = value
        if keep_blank or not _is_blank(cells) or not (
            spec.skip_blank_rows or (spec.header and not records)
        ):
            records.append((number, cells))
    return records, inexact


def _passed_over(spec: InputSpec, names: list[str]) -> str | None:
    """A sheet named like batchpay's fix sheet, not read because the workbook is not batchpay's
    report (no marker): said out loud, so its rows are not taken for read."""
    if spec.sheet is None and FIX_SHEET in names[1:]:
        return (f'sheet "{FIX_SHEET}" was not read: the workbook is not a batchpay report; the '
                f'first sheet "{names[0]}" was (set input.sheet to read another)')  # fmt: skip
    return None


def _check_workbook(path: Path, fmt: str) -> None:
    head = _head(path, 4096)
    if head.startswith(_OLE):
        return
    if not head.startswith((_ZIP, _EMPTY_ZIP)):
        kind = "an OpenDocument spreadsheet" if fmt == "ods" else "an Excel workbook"
        raise InputError(f"{path} is not {kind} {_looks_like(head)}")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, RuntimeError):
        message = f"{path}: the workbook is damaged or truncated (not a valid zip)"
        raise InputError(message) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise InputError(
            f"{path}: the workbook would unpack to {unpacked // 2**20} MB "
            f"(limit {MAX_UNPACKED_BYTES // 2**20} MB); refusing to open it"
        )


def _looks_like(head: bytes) -> str:
    if not head.strip():
        return "(the file is empty)"
    if head.lstrip().startswith(b"<"):
        return "(it looks like HTML or XML); save it as CSV or XLSX instead"
    if b"\x00" in head:
        return "(unknown binary content)"
    return "(it looks like text); set input.format: csv"


def _open_workbook(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return python_calamine.CalamineWorkbook.from_filelike(handle)
    except python_calamine.PasswordError:
        raise InputError(_PASSWORD.format(path=path)) from None
    except OSError as exc:
        raise InputError(_os_problem(path, exc)) from None
    except BaseException as exc:
        _reraise_unless_calamine(exc)
        if _is_encrypted(path):
            raise InputError(_PASSWORD.format(path=path)) from None
        raise InputError(f"{path}: the workbook cannot be read: {_one_line(exc)}") from None


_PASSWORD = "{path}: the workbook is password-protected; save a copy without the password"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # the stream of an encrypted xlsx (OLE)


def _is_encrypted(path: Path) -> bool:
    """An xlsx saved with a password is an OLE file holding an EncryptedPackage stream, which
    calamine only calls "Cannot detect file format"."""
    if not _head(path, 8).startswith(_OLE):
        return False
    tail = b""
    with path.open("rb") as handle:  # a regular file of at most MAX_FILE_BYTES
        while chunk := handle.read(2**20):
            if _ENCRYPTED in tail + chunk:
                return True
            tail = chunk[-len(_ENCRYPTED) :]
    return False


def _reraise_unless_calamine(exc: BaseException) -> None:
    """calamine raises its own tree, plain errors, and on malformed files a Rust panic, which
    pyo3 makes a BaseException; anything else (KeyboardInterrupt) goes on up."""
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc


def _sheet_name(path: Path, wanted: str | int | None, names: list[str]) -> str:
    listed = ", ".join(f'"{n}"' for n in names)
    if wanted is None:
        if not names:
            raise InputError(f"{path}: the workbook has no sheets")
        return names[0]
    if isinstance(wanted, int):
        if 0 <= wanted < len(names):
            return names[wanted]
        raise InputError(
            f"{path}: no sheet number {wanted} (0-based); the workbook has {len(names)}: {listed}"
        )
    if wanted not in names:
        raise InputError(f'{path}: no sheet "{wanted}"; the sheets are {listed}')
    return wanted


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees, without float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    return str(value)


def _float_text(value: float) -> str:
    """A number cell as Excel shows it: at most 15 significant digits, so a formula's binary
    noise (0.1+0.2 = 0.30000000000000004) reads as the 0.3 on screen. A number that needs more
    digits keeps them all (and is refused where the job reads it: see ``_inexact``)."""
    return _float_reading(value)[0]


def _float_reading(value: float) -> tuple[str, bool]:
    """``_float_text`` and ``_inexact`` of a number cell."""
    if abs(value) >= 2**53:  # the digits are not the ones typed; repr's exponent shows it
        return repr(value), False
    if value.is_integer():
        return str(int(value)), False
    if _inexact(value):
        return repr(value), True
    return format(value, ".15g"), False


def _inexact(value: float) -> bool:
    """More than 15 significant digits, and further from its 15-digit rounding than a formula's
    binary noise (2 units in the last place): 12345678901234.56 was typed (or written by a
    program) with digits a spreadsheet number cannot keep, and rounding it would change money."""
    if not math.isfinite(value) or value.is_integer() or abs(value) >= 2**53:
        return False  # whole numbers past 2**53: the check for shortened numbers sees them
    rounded = float(format(value, f".{SIGNIFICANT_DIGITS}g"))
    return abs(rounded - value) > 2 * math.ulp(value)


# ------------------------------------------------------------------------------------ assembly


def _assemble(
    path: Path, spec: InputSpec, records: list[Record], sheet: str | None, notes: list[str],
    inexact: dict[tuple[int, int], str],
) -> _Assembled:
    """Split off the header, drop blank, footer and marker rows, join continuation rows (noted
    in ``notes``), and square the rest."""
    header: _Header | None = None
    if spec.header:
        records = _drop_leading_blanks(records)
        if not records:
            raise InputError(_empty(path, sheet))
        number, cells = records[0]
        header = _Header(Origin(number, sheet), _header_names(path, cells, Origin(number, sheet)),
                         cells)
        columns = header.names
        records = records[1:]
    else:
        columns = list(spec.columns or [])
        _refuse_duplicates(path, columns, "input.columns")
    if spec.skip_blank_rows:  # most were passed over while reading; lenient CSV keeps them
        records = [r for r in records if not _is_blank(r[1])]
    read = len(records)
    records, dropped = _drop_footer_and_markers(records, spec, sheet)
    if not records:
        raise InputError(_no_data_rows(path, spec, sheet, header, read))
    if spec.continuation_when_empty:
        try:
            records, appended = append_continuations(records, columns,
                                                     spec.continuation_when_empty, sheet)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        notes += appended
    rows: list[Record] = []
    short: dict[int, tuple[CellFailure, ...]] = {}
    width = len(columns)
    for record in records:
        number, cells = record
        if len(cells) == width:
            rows.append(record)
            continue
        origin = Origin(number, sheet)
        if len(cells) < width and not spec.allow_short_rows and not _is_blank(cells):
            short[number] = (_short_row(cells, columns, origin, header),)
        rows.append((number, _fit(path, cells, width, origin, header)))
    named = {(row, columns[column]): text for (row, column), text in inexact.items()
             if column < len(columns)}  # fmt: skip
    columns, rows = _drop_unnamed_empty(columns, rows)
    return _Assembled(header.origin if header else None, columns, rows, dropped, short, named)


@dataclass(frozen=True)
class _Header:
    origin: Origin
    names: list[str]
    cells: list[str]  # as read, for messages

    def __str__(self) -> str:
        text = " | ".join(_filled(self.cells))
        text = text if len(text) <= 60 else f"{text[:57]}…"
        return f'the header ({self.place}: "{text}")'

    @property
    def place(self) -> str:
        """"line 3" or "row 3": the sheet is named once, by the row the message is about."""
        return f"{'line' if self.origin.sheet is None else 'row'} {self.origin.row}"


@dataclass(frozen=True)
class _Assembled:
    header_at: Origin | None
    columns: list[str]
    rows: list[Record]
    dropped: tuple[DroppedRow, ...]
    failures: dict[int, tuple[CellFailure, ...]]  # short rows, by row number
    inexact: dict[tuple[int, str], str]  # (row, column) -> a number past 15 significant digits


def _unreadable_cells(
    assembled: _Assembled, frame: pd.DataFrame, checked: Sequence[str], sheet: str | None
) -> dict[int, tuple[CellFailure, ...]]:
    """Short rows, and the cells of ``checked`` columns that hold no value to read: a
    spreadsheet error (#N/A, #REF!...) or a number a spreadsheet cannot hold exactly."""
    found: dict[int, list[CellFailure]] = {n: list(f) for n, f in assembled.failures.items()}
    names = [c for c in dict.fromkeys(checked) if c in frame.columns]
    for (row, column), text in assembled.inexact.items():
        if column in names and row in frame.index:
            found.setdefault(row, []).append(CellFailure(
                Origin(row, sheet), column, text, _INEXACT, _INEXACT_EXPECTED))  # fmt: skip
    numbers: list[int] = frame.index.tolist()
    for column in names:
        texts: list[str] = frame[column].tolist()
        if SPREADSHEET_ERRORS.isdisjoint(texts):  # one C-level pass for the usual case
            continue
        for number, text in zip(numbers, texts, strict=True):
            if text in SPREADSHEET_ERRORS:
                found.setdefault(number, []).append(CellFailure(
                    Origin(number, sheet), column, text, "is a spreadsheet error",
                    "the value the formula should give: fix it in the spreadsheet"))  # fmt: skip
    return {row: tuple(failures) for row, failures in sorted(found.items())}


def _no_data_rows(
    path: Path, spec: InputSpec, sheet: str | None, header: _Header | None, read: int
) -> str:
    where = f" after the header ({header.origin})" if header else _where(sheet)
    if read and spec.skip_footer >= read:
        return (f"{path}: skip_footer: {spec.skip_footer} drops every data row{where} "
                f"({read} {'row' if read == 1 else 'rows'}); lower input.skip_footer")  # fmt: skip
    if read:
        return (f"{path}: drop_rows_matching drops every data row{where}; "
                "check input.drop_rows_matching")  # fmt: skip
    return f"{path}: no data rows{where}"


def _short_row(
    cells: list[str], columns: list[str], origin: Origin, header: _Header | None
) -> CellFailure:
    expected = "one field per column, or input.allow_short_rows: true for a file that leaves " \
        "trailing empty fields out"
    return CellFailure(
        origin, columns[len(cells)], "",
        f"is missing: the row has {len(cells)} fields, {_width(header, len(columns))}", expected,
    )  # fmt: skip


def _width(header: _Header | None, width: int) -> str:
    return f"{header} has {width}" if header else f"input.columns names {width}"


def _drop_unnamed_empty(columns: list[str], rows: list[Record]) -> tuple[list[str], list[Record]]:
    """Drop columns with neither a header name nor data (a sheet's empty leading columns)."""
    unnamed = {i for i, name in enumerate(columns) if name == _unnamed(i)}
    empty = {i for i in unnamed if all(not cells[i].strip() for _, cells in rows)}
    if not empty:
        return columns, rows
    keep = [i for i in range(len(columns)) if i not in empty]
    return [columns[i] for i in keep], [(n, [cells[i] for i in keep]) for n, cells in rows]


def _unnamed(index: int) -> str:
    return f"Column {index + 1}"


def _where(sheet: str | None) -> str:
    return f' in sheet "{sheet}"' if sheet is not None else ""


def _empty(path: Path, sheet: str | None) -> str:
    if sheet is not None:
        return f'{path}: sheet "{sheet}" has only empty rows'
    return f"{path}: the file is empty (only blank lines)"


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


def _drop_leading_blanks(records: list[Record]) -> list[Record]:
    for index, (_, cells) in enumerate(records):
        if not _is_blank(cells):
            return records[index:]
    return []


def _header_names(path: Path, cells: list[str], origin: Origin) -> list[str]:
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()  # "a,b," (Lloyds) or "a;b;" (OP): the trailing delimiter is not a column
    names = [name or _unnamed(index) for index, name in enumerate(names)]
    _refuse_duplicates(path, names, f"the header ({origin})")
    return names


def _refuse_duplicates(path: Path, names: list[str], where: str) -> None:
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names, start=1):
        positions.setdefault(name, []).append(index)
    repeated = [
        f'"{name}" (columns {", ".join(map(str, where_))})'
        for name, where_ in positions.items()
        if len(where_) > 1
    ]
    if repeated:
        raise InputError(
            f"{path}: {where} repeats {', '.join(repeated)}; rename them, or read the file with "
            "header: false, skip_lines and columns: [...]"
        )


def _drop_footer_and_markers(
    records: list[Record], spec: InputSpec, sheet: str | None
) -> tuple[list[Record], tuple[DroppedRow, ...]]:
    """Drop the footer and the marker rows; return the rest and what was dropped."""
    footer: list[Record] = []
    if spec.skip_footer:
        records = _drop_leading_blanks(records[::-1])[::-1]
        cut = max(0, len(records) - spec.skip_footer)
        records, footer = records[:cut], records[cut:]
    markers: list[Record] = []
    if spec.drop_rows_matching:
        records, markers = _drop_markers(records, spec.drop_rows_matching)
    dropped = [(r, "skip_footer") for r in footer] + [(r, "drop_rows_matching") for r in markers]
    return records, tuple(
        DroppedRow(Origin(number, sheet), option, " | ".join(_filled(cells)))
        for (number, cells), option in sorted(dropped, key=lambda pair: pair[0][0])
        if not _is_blank(cells)
    )


def _drop_markers(records: list[Record], pattern: str) -> tuple[list[Record], list[Record]]:
    """(rows kept, marker rows dropped)."""
    try:
        marker = compile_pattern(pattern)
    except PatternError as exc:
        raise SpecError(f"input.drop_rows_matching: {exc}") from None
    kept: list[Record] = []
    markers: list[Record] = []
    for record in records:
        (markers if searches(marker, _first_filled(record[1])) else kept).append(record)
    return kept, markers


def _filled(cells: list[str]) -> list[str]:
    return [cell.strip() for cell in cells if cell.strip()]


def _first_filled(cells: list[str]) -> str:
    return next((cell.strip() for cell in cells if cell.strip()), "")


def _fit(path: Path, cells: list[str], width: int, origin: Origin, header: _Header | None
         ) -> list[str]:
    """Pad short rows with "" (refused earlier unless allowed); refuse filled cells past the end."""
    if len(cells) == width:
        return cells
    if len(cells) < width:
        return cells + [""] * (width - len(cells))
    if any(cell.strip() for cell in cells[width:]):
        filled = max(i for i, cell in enumerate(cells, start=1) if cell.strip())
        hint = (f"; if {header.place} is not the header, set input.skip_lines, or read the "
                "file with header: false and columns: [...]") if header else ""  # fmt: skip
        raise InputError(f"{path}: {origin} has {filled} fields, {_width(header, width)}{hint}")
    return cells[:width]


def _frame(rows: list[Record], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [cells for _, cells in rows],
        columns=pd.Index(columns, dtype=object),
        index=pd.Index([number for number, _ in rows], dtype="int64"),
        dtype=object,
    )
    return frame


def _check_required(
    path: Path, table: Table, required: Sequence[str], header_at: Origin | None
) -> None:
    missing = [name for name in required if name not in table.columns]
    if not missing:
        return
    where = f"the header ({header_at})" if header_at else "input.columns"
    if table.format in STATEMENT_FORMATS:
        where = f"the {table.format} statement fields"
    found = ", ".join(f'"{c}"' for c in table.columns[:MAX_LISTED])
    if len(table.columns) > MAX_LISTED:
        found += f", … ({len(table.columns):,} columns in all)"
    label = "column" if len(missing) == 1 else "columns"
    named = ", ".join(f'"{m}"' for m in missing)
    hints = [f'did you mean "{close}" for "{m}"?' for m in missing if (close := _close(m, table))]
    hint = f"; {' '.join(hints)}" if hints else ""
    raise InputError(f"{path}: {label} {named} not found in {where}; found: {found}{hint}")


def _close(name: str, table: Table) -> str | None:
    folded = {c.casefold().strip(): c for c in table.columns}
    if name.casefold().strip() in folded:
        return folded[name.casefold().strip()]
    matches = difflib.get_close_matches(name, table.columns, n=1, cutoff=0.6)
    return matches[0] if matches else None


# ------------------------------------------------------------------------------------- helpers


def _head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise InputError(_os_problem(path, exc)) from None


def _os_problem(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a directory, not a file"
    if isinstance(exc, PermissionError):
        return f"{path}: cannot read the file (permission denied)"
    return f"{path}: cannot read the file ({exc.strerror or exc})"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _nothing_left(path: Path, skip: int, unit: str, data: bytes) -> str:
    if not data.strip():
        return f"{path}: the file is empty"
    if not skip:
        return f"{path}: the file has only comment lines"
    return f"{path}: nothing after the first {skip} {unit} (skip_lines: {skip})"


def sheet_records(path: Path, fmt: str) -> tuple[list[list[str]], str]:
    """The first sheet of a workbook as rows of text, from row 1 (for batchpay init)."""
    _check_workbook(path, fmt)
    workbook = _open_workbook(path)
    name = _sheet_name(path, None, list(workbook.sheet_names))
    try:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except BaseException as exc:
        _reraise_unless_calamine(exc)
        raise InputError(f'{path}: sheet "{name}" cannot be read: {_one_line(exc)}') from None
    return [[cell if type(cell) is str else _cell_text(cell) for cell in row] for row in rows], name
