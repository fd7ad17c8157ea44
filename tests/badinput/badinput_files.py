"""Builders for malformed inputs: every hostile file is made at test time, small and fast.

Nothing large is committed: the 100 MB line is written in one call, and the zip bombs are raw
deflate streams of a repeated 1 MB block (about 1 KB each) put into a hand-made zip, so a
"600 MB" workbook costs well under a megabyte and a few milliseconds to build.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import openpyxl

HEADER = ("Date", "Reference", "Invoice", "Amount", "Currency")
GOOD_ROW = ("03/11/2026", "NW-0001", "INV-1001", "12.50", "USD")
GOOD_ROW_2 = ("04/11/2026", "NW-0002", "INV-1002", "20.00", "USD")

# The job every case starts from (then breaks one thing): bank deposits -> record_payment.
BASE_SPEC: dict[str, object] = {
    "name": "badinput",
    "schema": "bank_deposit",
    "fields": {
        "invoice_id": {"column": "Invoice"},
        "amount": {"column": "Amount", "type": "money", "currency_field": "currency"},
        "currency": {"column": "Currency"},
        "date": {"column": "Date", "type": "date", "formats": ["%d/%m/%Y"]},
        "reference": {"column": "Reference"},
    },
    "action": {
        "type": "record_payment",
        "params": {
            "invoice_id": "invoice_id",
            "amount": "amount",
            "payment_method": {"const": "bank_transfer"},
            "reference_number": "reference",
            "date": "date",
        },
        "business_key": ["reference"],
    },
}


# ------------------------------------------------------------------------------------ CSV text


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str] | None = HEADER) -> str:
    """Comma-separated lines; a cell with a comma, quote or newline is quoted."""
    lines = [header] if header is not None else []
    lines += list(rows)
    return "".join(",".join(_quote(cell) for cell in line) + "\n" for line in lines)


def _quote(cell: str) -> str:
    if any(ch in cell for ch in ',"\n\r'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def row(**changes: str) -> tuple[str, ...]:
    """GOOD_ROW with some cells replaced, by column name."""
    cells = dict(zip(HEADER, GOOD_ROW, strict=True))
    cells.update({name.replace("_", " ").title(): value for name, value in changes.items()})
    return tuple(cells[name] for name in HEADER)


def one_bad_row(**changes: str) -> bytes:
    """A good row on line 2 and the broken one on line 3 (its own reference and invoice)."""
    return csv_text(
        [GOOD_ROW, row(**{"reference": "NW-0003", "invoice": "INV-1017", **changes})]
    ).encode()


def huge_line_csv(path: Path, size: int = 100 * 2**20) -> None:
    """A CSV whose line 3 is one unbroken ``size``-byte field (no delimiter, no newline)."""
    with path.open("wb") as handle:
        handle.write(csv_text([GOOD_ROW]).encode())
        handle.write(b"A" * size)
        handle.write(b"\n")


def garbage(size: int = 4096, seed: int = 8) -> bytes:
    """Seeded random bytes: a binary file someone saved as .csv."""
    return random.Random(seed).randbytes(size)


# ---------------------------------------------------------------------------------- workbooks


def xlsx_bytes(
    rows: Sequence[Sequence[object]],
    header: Sequence[str] | None = HEADER,
    title: str = "Sheet1",
    extra_sheets: Sequence[str] = (),
) -> bytes:
    """An .xlsx written by openpyxl; ``str`` values stay text cells, numbers become numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    if header is not None:
        sheet.append(list(header))
    for cells in rows:
        sheet.append(list(cells))
    for name in extra_sheets:
        book.create_sheet(name)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def empty_xlsx() -> bytes:
    """A workbook whose only sheet has no cells at all."""
    return xlsx_bytes([], header=None)


def ods_bytes(cells: Sequence[Sequence[str]], repeat_last: int = 1) -> bytes:
    """A minimal OpenDocument spreadsheet (no ODS writer is installed; the format is small).
    ``repeat_last`` repeats the last row that many times (table:number-rows-repeated)."""
    table_rows = "".join(
        (f'<table:table-row table:number-rows-repeated="{repeat_last}">'
         if index == len(cells) - 1 and repeat_last > 1 else "<table:table-row>")
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>'
            for c in line
        )
        + "</table:table-row>"
        for index, line in enumerate(cells)
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
        f"{table_rows}</table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    members = [
        _stored("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
        _deflated("content.xml", content.encode()),
        _deflated("META-INF/manifest.xml", manifest.encode()),
    ]
    return raw_zip(members)


def far_cell_xlsx(cell: str = "XFD1048576") -> bytes:
    """A small workbook with one more value, far from the data (calamine would allocate the
    whole rectangle up to it)."""
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([GOOD_ROW])))
    sheet = book.active
    assert sheet is not None
    sheet[cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def error_cells_xlsx(rows: Sequence[Sequence[object]], errors: dict[str, str]) -> bytes:
    """An .xlsx whose ``errors`` cells (e.g. {"B3": "#N/A"}) are error cells, as Excel writes a
    formula that failed."""
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(rows)))
    sheet = book.active
    assert sheet is not None
    for ref, value in errors.items():
        sheet[ref] = value
        sheet[ref].data_type = "e"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def encrypted_xlsx(password: str = "secret") -> bytes:
    """A real password-protected .xlsx, as Excel saves one (msoffcrypto-tool, test extra)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx_bytes([GOOD_ROW]))).encrypt(password, out)
    return out.getvalue()


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def ole_garbage() -> bytes:
    """The OLE2 magic of a real .xls followed by noise."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + garbage(4088, seed=11)


# ------------------------------------------------------------------------------------ zip bombs

Member = tuple[str, bytes, int, int, int]  # name, compressed data, method, crc32, size


def _stored(name: str, data: bytes) -> Member:
    return name, data, 0, zlib.crc32(data), len(data)


def _deflated(name: str, data: bytes) -> Member:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, c.compress(data) + c.flush(), 8, zlib.crc32(data), len(data)


def padded_deflate(prefix: bytes, megabytes: int, suffix: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of ``prefix + b" " * megabytes MB + suffix``, built from one repeated block.

    A full flush resets the compressor, so every 1 MB block of spaces compresses to the same
    bytes: the stream is made by repetition, without compressing (or holding) the padding.
    Returns (stream, crc32, uncompressed size).
    """
    block = b" " * 2**20
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    unit = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit_bytes = unit.compress(block) + unit.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream += unit_bytes * megabytes + tail.compress(suffix) + tail.flush()
    crc = zlib.crc32(prefix)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    return stream, crc, len(prefix) + megabytes * 2**20 + len(suffix)


def zip_bomb_xlsx(megabytes: int, *, declare: int | None = None) -> bytes:
    """A real .xlsx whose first sheet is padded to ``megabytes`` MB of whitespace.

    ``declare`` sets the uncompressed size written in the zip headers (a lying bomb claims a
    tiny size); by default the headers tell the truth.
    """
    members = _members(xlsx_bytes([GOOD_ROW]))
    sheet = "xl/worksheets/sheet1.xml"
    xml = members[sheet][0]
    cut = xml.index(b"<sheetData")  # whitespace between elements is allowed
    stream, crc, size = padded_deflate(xml[:cut], megabytes, xml[cut:])
    built = [
        (name, stream, 8, crc, size if declare is None else declare)
        if name == sheet
        else _deflated(name, data)
        for name, (data, _) in members.items()
    ]
    return raw_zip(built)


def _members(data: bytes) -> dict[str, tuple[bytes, int]]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename: (archive.read(i), i.compress_type) for i in archive.infolist()}


def raw_zip(members: Sequence[Member]) -> bytes:
    """A zip written by hand, so the headers can say whatever the test needs them to say."""
    out = io.BytesIO()
    central = []
    for name, data, method, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21,
                              crc, len(data), size, len(encoded), 0))  # fmt: skip
        out.write(encoded)
        out.write(data)
        entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21,
                            crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset)  # fmt: skip
        central.append(entry + encoded)
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))  # fmt: skip
    return out.getvalue()
