"""Text-first readers: every option, every failure, and where each row came from."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchpay import read
from batchpay.errors import InputError
from batchpay.read import FIX_SHEET, Table, detect_format, read_table
from batchpay.records import Origin
from batchpay.spec import InputSpec


def spec(**options: Any) -> InputSpec:
    return InputSpec(**options)


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def rows(table: Table) -> list[tuple[int, list[str]]]:
    return [(int(number), list(cells)) for number, cells in zip(
        table.frame.index, table.frame.itertuples(index=False, name=None), strict=True
    )]  # fmt: skip


def error(path: Path, input_spec: InputSpec | None = None, **kwargs: Any) -> str:
    with pytest.raises(InputError) as caught:
        read_table(path, input_spec or spec(), **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------------------ CSV


def test_csv_cells_are_text_and_rows_keep_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "deposits.csv", "Ref,Amount,Date\n00123,12.50,01/02/2024\n"
                 "12345678901234567890,1e5,2024-01-15\n")  # fmt: skip
    table = read_table(path, spec())
    assert table.columns == ("Ref", "Amount", "Date")
    assert (table.format, table.sheet, table.path) == ("csv", None, path)
    assert rows(table) == [
        (2, ["00123", "12.50", "01/02/2024"]),
        (3, ["12345678901234567890", "1e5", "2024-01-15"]),
    ]
    assert set(table.frame.dtypes.astype(str)) == {"object"}
    assert all(type(cell) is str for cell in table.frame.to_numpy().ravel())
    assert table.origin(3) == Origin(3) and str(table.origin(3)) == "line 3"


def test_multiline_fields_and_preamble_count_physical_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bank.csv",
        "Account statement\nExported 2024-01-31\n"  # lines 1-2: preamble
        "Date,Memo,Amount\n"  # line 3: header
        '01/01/2024,"first\nsecond\nthird",1.00\n'  # lines 4-6: one row
        "02/01/2024,plain,2.00\n"  # line 7
        '03/01/2024,"a ""quoted"" word",3.00\n',  # line 8
    )
    table = read_table(path, spec(skip_lines=2))
    assert rows(table) == [
        (4, ["01/01/2024", "first\nsecond\nthird", "1.00"]),
        (7, ["02/01/2024", "plain", "2.00"]),
        (8, ["03/01/2024", 'a "quoted" word', "3.00"]),
    ]


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "crlf.csv", b'\xef\xbb\xbfRef,Memo\r\n1,"two\r\nlines"\r\n2,x\r\n')
    table = read_table(path, spec())
    assert table.columns == ("Ref", "Memo")
    assert rows(table) == [(2, ["1", "two\r\nlines"]), (4, ["2", "x"])]


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", "Määrä;Selitys\n-66,50;MEIKÄLÄINEN\n"),
        ("cp1252", "Betrag;Text\n€ 5,00;Überweisung\n"),
        ("cp1250", "Kwota;Opis\n5,00;Zażółć\n"),
        ("iso-8859-13", "Summa;Apraksts\n5,00;Ąžuolas\n"),
    ],
)
def test_single_byte_encodings(tmp_path: Path, encoding: str, text: str) -> None:
    path = write(tmp_path, "enc.csv", text, encoding)
    table = read_table(path, spec(encoding=encoding, delimiter=";"))
    header, data = text.splitlines()
    assert table.columns == tuple(header.split(";"))
    assert rows(table) == [(2, data.split(";"))]


def test_wrong_encoding_names_line_and_byte(tmp_path: Path) -> None:
    path = write(tmp_path, "file.csv", "Name,Amount\nok,1\nMüller,2\n", "latin-1")
    assert error(path) == (
        f"{path}: line 3 is not valid utf-8 (byte 0xfc); set input.encoding, e.g. cp1252 or latin-1"
    )


def test_wrong_single_byte_encoding_suggests_others(tmp_path: Path) -> None:
    path = write(tmp_path, "file.csv", "Name\nok\n\x81\n", "latin-1")
    assert error(path, spec(encoding="cp1252")) == (
        f"{path}: line 3 is not valid cp1252 (byte 0x81); set input.encoding, e.g. latin-1 or utf-8"
    )


@pytest.mark.parametrize(
    ("encoding", "byte", "meant", "twin"),
    [("latin-1", 0x96, ' but "–" in cp1252', "cp1252"),
     ("latin-1", 0x80, ' but "€" in cp1252', "cp1252"),
     ("latin-1", 0x81, "", "cp1252"),  # unused in cp1252 too: still not latin-1 text
     ("iso-8859-2", 0x9a, ' but "š" in cp1250', "cp1250")],
)  # fmt: skip
def test_windows_text_read_as_iso_8859_is_refused(
    tmp_path: Path, encoding: str, byte: int, meant: str, twin: str
) -> None:
    path = write(tmp_path, "excel.csv", b"Memo;Amount\nok;1\nZahlung " + bytes([byte]) + b";2\n")
    assert error(path, spec(encoding=encoding, delimiter=";")) == (
        f"{path}: line 3 has byte 0x{byte:02x}, an invisible control character in {encoding}"
        f"{meant}; the file is most likely {twin} (Windows) text: set input.encoding: {twin}"
    )


def test_unknown_encoding_is_a_spec_error() -> None:
    with pytest.raises(ValueError, match=r"unknown encoding 'klingon'"):
        spec(encoding="klingon")  # refused when the job loads, before any file is read


def test_delimiter_and_quotechar(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "a|b\n'x|y'|'it''s'\n")
    table = read_table(path, spec(delimiter="|", quotechar="'"))
    assert rows(table) == [(2, ["x|y", "it's"])]


def test_headerless_file_uses_declared_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "nohead.csv", "AT1;+1,23;EUR\nAT1;-0,42\n")
    table = read_table(path, spec(header=False, columns=["IBAN", "Amount", "Currency"],
                                  delimiter=";"))  # fmt: skip
    assert table.columns == ("IBAN", "Amount", "Currency")
    assert rows(table) == [(1, ["AT1", "+1,23", "EUR"]), (2, ["AT1", "-0,42", ""])]


def test_headerless_row_too_wide(tmp_path: Path) -> None:
    path = write(tmp_path, "nohead.csv", "a,b\nc,d,e\n")
    assert error(path, spec(header=False, columns=["x", "y"])) == (
        f"{path}: line 2 has 3 fields, input.columns names 2"
    )


def test_headerless_duplicate_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "nohead.csv", "a,b\n")
    assert error(path, spec(header=False, columns=["x", "x"])) == (
        f'{path}: input.columns repeats "x" (columns 1, 2); rename them, or read the file with '
        "header: false, skip_lines and columns: [...]"
    )


def test_skip_footer_ignores_trailing_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "foot.csv", "a,b\n1,2\n3,4\nTotal,6\n\n\n")
    table = read_table(path, spec(skip_footer=1))
    assert rows(table) == [(2, ["1", "2"]), (3, ["3", "4"])]


def test_dropped_footer_and_marker_rows_are_named_never_silent(tmp_path: Path) -> None:
    # A month without a total line: skip_footer drops the last payment, which must show.
    path = write(tmp_path, "nofoot.csv", "a,b\nPosted,\n1,2\n\n3,4\n,INV3 50.00\n\n")
    table = read_table(path, spec(skip_footer=1, drop_rows_matching="^Posted",
                                  skip_blank_rows=False))
    assert rows(table) == [(3, ["1", "2"]), (4, ["", ""]), (5, ["3", "4"])]
    assert [str(row) for row in table.dropped] == [
        'line 2 dropped by drop_rows_matching: "Posted"',
        'line 6 dropped by skip_footer: "INV3 50.00"',
    ]
    assert table.dropped_notes() == [str(row) for row in table.dropped]


def test_many_dropped_rows_are_counted_after_the_first_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "pages.csv", "a,b\n" + "Page,x\n1,2\n" * 25)
    table = read_table(path, spec(drop_rows_matching="^Page$"))
    assert len(table.dropped) == 25
    notes = table.dropped_notes()
    assert notes[0] == 'line 2 dropped by drop_rows_matching: "Page | x"'
    assert notes[20:] == ["and 5 more rows dropped by skip_footer/drop_rows_matching"]


def test_drop_rows_matching_looks_at_the_first_filled_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "markers.csv",
                 'Date,Memo\n"Posted Transactions"\n,Pending Transactions\n01/01/2024,x\n')
    table = read_table(path, spec(drop_rows_matching=r"^(Pending|Posted) Transactions"))
    assert rows(table) == [(4, ["01/01/2024", "x"])]


def test_bad_drop_regex_is_a_spec_error() -> None:
    with pytest.raises(ValueError, match=r"regex does not compile"):
        spec(drop_rows_matching="(")  # refused when the job loads, before any file is read


def test_comment_lines_are_skipped_but_not_inside_quotes(tmp_path: Path) -> None:
    text = '# exported by bank\nRef,Memo\n# note\n1,"line\n# not a comment"\n2,x\n'
    path = write(tmp_path, "c.csv", text)
    table = read_table(path, spec(comment_prefix="#"))
    assert table.columns == ("Ref", "Memo")
    assert rows(table) == [(4, ["1", "line\n# not a comment"]), (6, ["2", "x"])]


def test_blank_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", "\n\na,b\n1,2\n\n , \n3,4\n")
    assert rows(read_table(path, spec())) == [(4, ["1", "2"]), (7, ["3", "4"])]
    kept = read_table(path, spec(skip_blank_rows=False))
    assert rows(kept) == [(4, ["1", "2"]), (5, ["", ""]), (6, [" ", " "]), (7, ["3", "4"])]


def test_header_is_cleaned(tmp_path: Path) -> None:
    # Lloyds ends the header with ","; OP ends every line with ";".
    path = write(tmp_path, "h.csv", " Date ,,Amount,\n01/01/2024,x,1.00\n02/01/2024,,2.00,\n")
    table = read_table(path, spec())
    assert table.columns == ("Date", "Column 2", "Amount")  # unnamed, but it holds data
    assert rows(table) == [(2, ["01/01/2024", "x", "1.00"]), (3, ["02/01/2024", "", "2.00"])]
    blank = write(tmp_path, "b.csv", ",Date,,Amount\n,01/01/2024,,1.00\n")
    assert read_table(blank, spec()).columns == ("Date", "Amount")


def test_short_rows_are_invalid_rows_unless_allowed(tmp_path: Path) -> None:
    # issue 12 item 14: "06/01/2024,INV-1002,250.00" put 250.00 under Note and read as no amount.
    path = write(tmp_path, "short.csv", "Date,Invoice,Note,Amount\n06/01/2024,INV-1002,250.00\n"
                 "07/01/2024,INV-1003,,1.00\n\n")  # fmt: skip
    table = read_table(path, spec())
    assert rows(table) == [(2, ["06/01/2024", "INV-1002", "250.00", ""]),
                           (3, ["07/01/2024", "INV-1003", "", "1.00"])]  # fmt: skip
    (failure,) = table.failures[2]
    assert str(failure) == (
        'line 2, column "Amount": "" is missing: the row has 3 fields, the header '
        '(line 1: "Date | Invoice | Note | Amount") has 4 (expected one field per column, or '
        "input.allow_short_rows: true for a file that leaves trailing empty fields out)"
    )
    assert set(table.failures) == {2}
    allowed = read_table(path, spec(allow_short_rows=True))
    assert rows(allowed) == rows(table) and allowed.failures == {}


def test_headerless_short_row_names_the_declared_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "short.csv", "1,2\n")
    table = read_table(path, spec(header=False, columns=["a", "b", "c"]))
    assert table.failures[1][0].problem == "is missing: the row has 2 fields, input.columns names 3"


def test_row_wider_than_header(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.csv", "a,b,c\n1,2,3,,\n1,2,3,4,,\n")
    assert error(path) == (
        f'{path}: line 3 has 4 fields, the header (line 1: "a | b | c") has 3; if line 1 is not '
        "the header, set input.skip_lines, or read the file with header: false and columns: [...]"
    )


def test_too_small_skip_lines_names_the_line_taken_as_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "bank.csv", "Statement\nAccount 1234\nDate,Amount\n01/01,1.00\n")
    assert error(path, spec(skip_lines=1)).startswith(
        f'{path}: line 3 has 2 fields, the header (line 2: "Account 1234") has 1; if line 2 is '
        "not the header, set input.skip_lines"
    )


def test_skip_footer_or_markers_eating_every_row_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "f.csv", "a,b\n1,2\n3,4\n\n")
    assert error(path, spec(skip_footer=2)) == (
        f"{path}: skip_footer: 2 drops every data row after the header (line 1) (2 rows); "
        "lower input.skip_footer"
    )
    assert error(path, spec(drop_rows_matching="^[0-9]")) == (
        f"{path}: drop_rows_matching drops every data row after the header (line 1); "
        "check input.drop_rows_matching"
    )


def test_duplicate_header_names(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", "Title\nDate,Amount,Memo,Amount,Date\n1,2,3,4,5\n")
    assert error(path, spec(skip_lines=1)) == (
        f'{path}: the header (line 2) repeats "Date" (columns 1, 5), "Amount" (columns 2, 4); '
        "rename them, or read the file with header: false, skip_lines and columns: [...]"
    )


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"", {}, "the file is empty"),
        (b"\n\r\n  \n", {}, "the file is empty (only blank lines)"),
        (b"a,b\n", {}, "no data rows after the header (line 1)"),
        (b"title\n\na,b\n\n", {"skip_lines": 1}, "no data rows after the header (line 3)"),
        (b"a,b\nTotal,1\n", {"skip_footer": 1},
         "skip_footer: 1 drops every data row after the header (line 1) (1 row); "
         "lower input.skip_footer"),
        (b"x\ny\n", {"skip_lines": 5}, "nothing after the first 5 lines (skip_lines: 5)"),
        (b"\n", {"header": False, "columns": ["a"]}, "no data rows"),
    ],
)
def test_nothing_to_read(
    tmp_path: Path, content: bytes, options: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, "empty.csv", content)
    assert error(path, spec(**options)) == f"{path}: {message}"


def test_binary_garbage(tmp_path: Path) -> None:
    path = write(tmp_path, "garbage.csv", b"a,b\n1,2\n\x89\x00\x13\x00\xff")
    assert error(path) == f"{path}: line 3 contains NUL bytes; this is a binary file, not CSV text"


def test_utf16_is_recognised(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.csv", "a,b\n1,2\n", "utf-16")
    assert error(path) == f"{path}: the file is UTF-16 text; set input.encoding: utf-16"
    assert rows(read_table(path, spec(encoding="utf-16"))) == [(2, ["1", "2"])]


def test_workbook_given_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    openpyxl.Workbook().save(path)
    assert error(path, spec(format="csv")) == (
        f"{path}: looks like an xlsx or ods workbook, not CSV text; set input.format "
        "(or leave it unset to detect it)"
    )
    # Left unset, the content decides.
    assert detect_format(path) == "xlsx"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert error(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"
    assert error(tmp_path / "nope.xlsx") == f"{tmp_path / 'nope.xlsx'}: no such file"
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert error(folder) == f"{folder}: is a directory, not a file"


def test_huge_field_is_refused(tmp_path: Path) -> None:
    big = "x" * (read.MAX_FIELD_CHARS + 1)
    path = write(tmp_path, "big.csv", f"a,b\n1,2\n3,{big}\n")
    assert error(path) == (
        f"{path}: line 3: a field is longer than {read.MAX_FIELD_CHARS} characters "
        "(an unclosed quote?)"
    )


def test_text_after_a_closing_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,b\n1,12" pipe\n"3"x,4\n')
    assert error(path) == f"{path}: line 3: cannot be read as CSV (',' expected after '\"')"


def test_only_comments(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "# one\n# two\n")
    assert error(path, spec(comment_prefix="#")) == f"{path}: the file has only comment lines"


def test_unclosed_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", 'a,b\n1,2\n3,"never closed\n4,5\n')
    assert error(path) == f"{path}: line 3: a quoted field is never closed"


def test_required_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "deposits.csv", "Date,Amount ,Memo\n1,2,3\n")
    assert read_table(path, spec(), required_columns=["Date", "Amount"]).columns == (
        "Date", "Amount", "Memo",
    )  # fmt: skip
    assert error(path, required_columns=["Date", "amount", "Reference"]) == (
        f'{path}: columns "amount", "Reference" not found in the header (line 1); '
        'found: "Date", "Amount", "Memo"; did you mean "Amount" for "amount"?'
    )
    assert error(path, required_columns=["Amout"]) == (
        f'{path}: column "Amout" not found in the header (line 1); '
        'found: "Date", "Amount", "Memo"; did you mean "Amount" for "Amout"?'
    )
    headerless = spec(header=False, columns=["Date", "Value", "Note"])
    assert error(path, headerless, required_columns=["Memo"]) == (
        f'{path}: column "Memo" not found in input.columns; found: "Date", "Value", "Note"'
    )


# --------------------------------------------------------------------------------- detection


def test_detect_format(tmp_path: Path) -> None:
    xlsx = tmp_path / "book.bin"
    openpyxl.Workbook().save(xlsx)
    ods = tmp_path / "book.zip"
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<x/>")
    xls = write(tmp_path, "legacy.dat", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    assert detect_format(xlsx) == "xlsx"
    assert detect_format(ods) == "ods"
    assert detect_format(xls) == "xls"
    assert detect_format(write(tmp_path, "x.XLSX", "a,b\n")) == "xlsx"  # by extension
    assert detect_format(write(tmp_path, "x.ods", "a,b\n")) == "ods"
    assert detect_format(write(tmp_path, "x.txt", "a,b\n")) == "csv"


@pytest.mark.parametrize(
    ("name", "content", "tail"),
    [
        ("bank.xlsx", b"Date,Amount\n01/01/2024,1\n",
         "is not an Excel workbook (it looks like text); set input.format: csv"),
        ("bank.xls", b"<html><table><tr><td>1</td></tr></table></html>",
         "is not an Excel workbook (it looks like HTML or XML); save it as CSV or XLSX instead"),
        ("bank.ods", b"\x01\x02\x00\x03",
         "is not an OpenDocument spreadsheet (unknown binary content)"),
        ("bank.xlsx", b"", "is not an Excel workbook (the file is empty)"),
    ],
)  # fmt: skip
def test_not_a_workbook(tmp_path: Path, name: str, content: bytes, tail: str) -> None:
    path = write(tmp_path, name, content)
    assert error(path) == f"{path} {tail}"


def test_truncated_workbook(tmp_path: Path) -> None:
    whole = tmp_path / "whole.xlsx"
    openpyxl.Workbook().save(whole)
    path = write(tmp_path, "cut.xlsx", whole.read_bytes()[:300])
    assert error(path) == f"{path}: the workbook is damaged or truncated (not a valid zip)"


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cat.txt", "meow")
    assert error(path).startswith(f"{path}: the workbook cannot be read: ")


def test_zip_bomb_is_refused_before_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.xlsx"
    openpyxl.Workbook().save(path)
    monkeypatch.setattr(read, "MAX_UNPACKED_BYTES", 1024)
    message = error(path)
    assert message.startswith(f"{path}: the workbook would unpack to ")
    assert message.endswith("MB (limit 0 MB); refusing to open it")


# ------------------------------------------------------------------------------ spreadsheets


def sample_workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Deposits"
    # Rows 1-2 empty, column A empty: the header is C3:H3 as Excel shows it.
    sheet.append([])
    sheet.append([])
    sheet.append([None, None, "Ref", "Amount", "When", "Time", "Flag", "Note"])
    sheet.append([None, None, "007", 4.0, dt.date(2024, 1, 15), dt.time(10, 30), True, None])
    sheet.append([None, None, 12345678901234567890, 0.1, dt.datetime(2024, 1, 15, 10, 30), None,
                  False, "12345678901234567890"])  # fmt: skip
    sheet.append([])
    sheet.append([None, None, 3, -9.99, None, None, None, "x"])
    book.create_sheet("Other").append(["only", "header"])
    book.save(path)
    return path


def test_xlsx_cells_become_text_with_excel_row_numbers(tmp_path: Path) -> None:
    table = read_table(sample_workbook(tmp_path / "book.xlsx"), spec())
    assert (table.format, table.sheet) == ("xlsx", "Deposits")
    # Columns A and B have no name and no data: dropped.
    assert table.columns == ("Ref", "Amount", "When", "Time", "Flag", "Note")
    assert rows(table) == [
        (4, ["007", "4", "2024-01-15", "10:30:00", "TRUE", ""]),
        # A 20-digit number stored as a number has already lost digits; the exponent shows it.
        (5, ["1.234567890123457e+19", "0.1", "2024-01-15T10:30:00", "", "FALSE",
             "12345678901234567890"]),
        (7, ["3", "-9.99", "", "", "", "x"]),
    ]  # fmt: skip
    assert str(table.origin(5)) == 'sheet "Deposits" row 5'


def test_sheet_by_name_and_index(tmp_path: Path) -> None:
    path = sample_workbook(tmp_path / "book.xlsx")
    assert read_table(path, spec(sheet=0)).sheet == "Deposits"
    assert error(path, spec(sheet="Other")) == (
        f'{path}: no data rows after the header (sheet "Other" row 1)'
    )
    assert error(path, spec(sheet="Deposit")) == (
        f'{path}: no sheet "Deposit"; the sheets are "Deposits", "Other"'
    )
    assert error(path, spec(sheet=2)) == (
        f'{path}: no sheet number 2 (0-based); the workbook has 2: "Deposits", "Other"'
    )


def test_spreadsheet_skip_lines_footer_and_width(tmp_path: Path) -> None:
    path = tmp_path / "fineco.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Movimenti"
    for line in (["Conto Corrente: 0000000"], ["Periodo"], [], ["Risultati Ricerca"], [],
                 ["Data", "Entrate", "Uscite"], ["31/12/2024", None, -9.99],
                 ["31/12/2024", 150.62, None], ["Totale", 150.62, -9.99]):  # fmt: skip
        sheet.append(line)
    sheet["E9"] = "stray"
    book.save(path)
    table = read_table(path, spec(skip_lines=4, skip_footer=1))
    assert table.columns == ("Data", "Entrate", "Uscite")
    assert rows(table) == [(7, ["31/12/2024", "", "-9.99"]), (8, ["31/12/2024", "150.62", ""])]
    assert [str(row) for row in table.dropped] == [
        'sheet "Movimenti" row 9 dropped by skip_footer: "Totale | 150.62 | -9.99 | stray"'
    ]
    assert error(path, spec(skip_lines=4)) == (
        f'{path}: sheet "Movimenti" row 9 has 5 fields, the header (row 6: "Data | Entrate | '
        'Uscite") has 3; if row 6 is not the header, set input.skip_lines, or read the file '
        "with header: false and columns: [...]"
    )
    assert error(path, spec(skip_lines=20)) == (
        f'{path}: sheet "Movimenti" has nothing after row 20 (skip_lines: 20)'
    )


def test_hidden_rows_are_read_like_visible_ones_as_documented(tmp_path: Path) -> None:
    path = tmp_path / "hidden.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in (["Ref", "Amount"], ["A", 1], ["B", 2]):
        sheet.append(line)
    sheet.row_dimensions[3].hidden = True
    book.save(path)
    assert rows(read_table(path, spec())) == [(2, ["A", "1"]), (3, ["B", "2"])]
    described = InputSpec.model_fields["sheet"].description or ""
    assert "Hidden rows and columns (and rows an AutoFilter hides) are read" in described


def test_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    sheet = openpyxl.load_workbook(path).sheetnames[0]
    assert error(path) == f'{path}: sheet "{sheet}" is empty'


def test_a_sheet_named_like_the_fix_sheet_does_not_win_over_the_first(tmp_path: Path) -> None:
    # issue 12 item 16: the bank's sheet first, a stray "Fix and re-upload" later, sheet unset:
    # the first sheet is read, and the run notes say the other one was not.
    path = tmp_path / "bank.xlsx"
    book = openpyxl.Workbook()
    bank = book.active
    assert bank is not None
    bank.title = "Deposits"
    bank.append(["Date", "Amount", "Ref"])
    bank.append(["15/01/2024", "12.50", "000123"])
    bank.append(["16/01/2024", "20.00", "000124"])
    stray = book.create_sheet(FIX_SHEET)
    stray.append(["Date", "Amount", "Ref"])
    stray.append(["17/01/2024", "99.00", "000999"])
    book.save(path)
    table = read_table(path, spec(), required_columns=["Amount"])
    assert table.sheet == "Deposits"
    assert [cells[2] for _, cells in rows(table)] == ["000123", "000124"]
    assert table.dropped_notes() == [
        f'sheet "{FIX_SHEET}" was not read: the workbook is not a batchpay report; the first '
        'sheet "Deposits" was (set input.sheet to read another)'
    ]
    # Naming a sheet reads it, and says nothing more.
    named = read_table(path, spec(sheet=FIX_SHEET))
    assert (named.sheet, named.dropped_notes()) == (FIX_SHEET, [])
    assert rows(named) == [(2, ["17/01/2024", "99.00", "000999"])]


def test_batchpay_s_own_fix_workbook_is_read_from_its_fix_sheet_and_says_so(
    tmp_path: Path,
) -> None:
    # The marker (issue 14 item 4) makes the fix sheet the one read, named in the run notes.
    from openpyxl.packaging.custom import StringProperty

    from batchpay.fixsheet import MARKER

    path = tmp_path / "report.xlsx"
    book = openpyxl.Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Summary"
    summary.append(["rows read", 1])
    fix = book.create_sheet(FIX_SHEET)
    fix.append(["Date", "Amount", "batchpay: problem"])
    fix.append(["15/01/2024", "12.50", "fixed"])
    book.custom_doc_props.append(StringProperty(name=MARKER, value=FIX_SHEET))
    book.save(path)
    table = read_table(path, spec(skip_lines=3, sheet="Deposits"))
    assert (table.sheet, rows(table)) == (FIX_SHEET, [(2, ["15/01/2024", "12.50", "fixed"])])
    assert table.dropped_notes() == [
        f'read sheet "{FIX_SHEET}" of batchpay\'s own report (batchpay-fix-sheet marker), header '
        "on row 1; the job's input options for the original file do not apply"
    ]


def test_ods_reads_like_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "sheet.ods"
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Blatt1">'
        "<table:table-row><table:table-cell/></table:table-row>"
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Ref</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>Betrag</text:p>'
        "</table:table-cell></table:table-row>"
        '<table:table-row><table:table-cell office:value-type="string"><text:p>007</text:p>'
        '</table:table-cell><table:table-cell office:value-type="float" office:value="12.5">'
        "<text:p>12,5</text:p></table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)  # fmt: skip
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    table = read_table(path, spec())
    assert (table.format, table.sheet, table.columns) == ("ods", "Blatt1", ("Ref", "Betrag"))
    assert rows(table) == [(3, ["007", "12.5"])]


def test_cell_text() -> None:
    cell = read._cell_text
    assert [cell(4.0), cell(0.1), cell(-9.99), cell(1e300), cell(2.0**53), cell(7)] == [
        "4", "0.1", "-9.99", "1e+300", "9007199254740992.0", "7",
    ]  # fmt: skip
    assert cell(dt.datetime(2024, 1, 15, 10, 30, 0, 500)) == "2024-01-15T10:30:00.000500"
    assert cell(dt.timedelta(hours=1)) == "1:00:00"
    assert cell(None) == ""


def test_float_cells_read_as_excel_shows_them_without_binary_noise(tmp_path: Path) -> None:
    cell = read._cell_text
    assert [cell(0.1 + 0.2), cell(1234.5600000000001), cell(1.1 * 3), cell(-0.1 - 0.2)] == [
        "0.3", "1234.56", "3.3", "-0.3",
    ]  # fmt: skip
    # Past 2**53 the number lost digits: the ".0" or the exponent keeps that visible. Below it,
    # a number that needs more than 15 digits keeps them all (and is refused where it is read).
    assert [cell(0.125), cell(1 / 3), cell(2.0**53 + 2), cell(1234567890123456.5)] == [
        "0.125", "0.3333333333333333", "9007199254740994.0", "1234567890123456.5",
    ]  # fmt: skip
    inexact = read._inexact
    assert [inexact(v) for v in (0.1 + 0.2, 1.1 * 3, 12.5, 1e300, 2.0**53 + 2, 4.0)] == [False] * 6
    assert [inexact(v) for v in (12345678901234.56, 1 / 3, 1234567890123456.5)] == [True] * 3
    path = tmp_path / "noise.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Amount"])
    sheet.append([0.1 + 0.2])
    book.save(path)
    assert rows(read_table(path, spec())) == [(2, ["0.3"])]


def test_numbers_past_15_digits_and_error_cells_are_invalid_cells(tmp_path: Path) -> None:
    # issue 12 items 15 and 18: #N/A / #REF! read as "" (collapsing keys), and
    # 12345678901234.56 posted as ...234.60.
    path = tmp_path / "cells.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Ref", "Amount", "Note"])
    sheet.append(["R-1", 12345678901234.56, "#N/A"])
    sheet.append(["#N/A", 12.5, "ok"])
    sheet.append([None, 1.5, None])
    sheet["A4"] = "#REF!"
    sheet["A4"].data_type = "e"
    sheet["C4"] = "#DIV/0!"
    sheet["C4"].data_type = "e"
    book.save(path)
    table = read_table(path, spec(), required_columns=["Ref", "Amount"])
    assert [cells for _, cells in rows(table)] == [
        ["R-1", "12345678901234.56", "#N/A"], ["#N/A", "12.5", "ok"], ["#REF!", "1.5", "#DIV/0!"],
    ]  # fmt: skip
    assert {row: [str(f) for f in failures] for row, failures in table.failures.items()} == {
        2: ['sheet "Sheet" row 2, column "Amount": "12345678901234.56" has more than 15 '
            "significant digits, more than a spreadsheet number holds exactly, so it may not be "
            "the number typed (expected at most 15 significant digits, or the value stored as "
            "text)"],
        3: ['sheet "Sheet" row 3, column "Ref": "#N/A" is a spreadsheet error (expected the value '
            "the formula should give: fix it in the spreadsheet)"],
        4: ['sheet "Sheet" row 4, column "Ref": "#REF!" is a spreadsheet error (expected the '
            "value the formula should give: fix it in the spreadsheet)"],
    }  # the Note column is not read by the job: its errors do not matter
    csv_path = write(tmp_path, "errors.csv", "Ref,Amount\n#N/A,1.00\nErr:502,2.00\nR-3,3.00\n")
    assert sorted(read_table(csv_path, spec()).failures) == [2, 3]


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    # issue 13 item 4: /dev/zero behind a symlink was read until memory ran out.
    link = tmp_path / "deposits.csv"
    link.symlink_to("/dev/zero")
    assert error(link) == (
        f"{link}: is not a regular file (a device, pipe or socket); batchpay reads files only"
    )
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert "is not a regular file" in error(fifo)  # refused before open, which would block
    big = tmp_path / "big.xlsx"
    with big.open("wb") as handle:
        handle.truncate(read.MAX_FILE_BYTES + 2**20)  # sparse: no disk used
    assert error(big) == f"{big}: the file is 501 MB; batchpay reads files up to 500 MB"


def test_columns_past_excels_limit_are_refused_and_messages_stay_short(tmp_path: Path) -> None:
    # issue 13 item 5: 20,000 columns ended in a traceback; the missing-column error was one
    # 189,099-character line.
    wide = write(tmp_path, "wide.csv", ",".join(f"C{i}" for i in range(20_000)) + "\n1\n")
    assert error(wide) == (
        f"{wide}: line 1 has 20,000 fields; batchpay reads at most 16,384 columns (Excel's limit)"
    )
    many = write(tmp_path, "many.csv", ",".join(f"C{i}" for i in range(16_000)) + "\n1\n")
    message = error(many, required_columns=["Amount"])
    assert len(message) < 600
    assert message.endswith('"C28", "C29", … (16,000 columns in all)')


def test_blank_rows_are_passed_over_while_reading(tmp_path: Path) -> None:
    # issue 13 item 3: 20 MB of blank lines took 3.8 GB; 10 MB of ",,,," rows 613 MB. Memory is
    # measured in a fresh process (ru_maxrss), before and after reading.
    path = tmp_path / "blank.csv"
    path.write_text("Date,Amount\n" + "\n" * 1_000_000 + ",\n" * 1_000_000 + "01/01/2024,1.00\n")
    script = (
        "import resource, sys\n"
        "from batchpay.read import read_table\n"
        "from batchpay.spec import InputSpec\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "table = read_table(sys.argv[1], InputSpec())\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(len(table.frame), (after - before) // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, check=True, timeout=300)  # fmt: skip
    rows_read, grown_mb = map(int, done.stdout.split())
    assert rows_read == 1
    assert grown_mb < 100, f"{grown_mb} MB for 2,000,000 blank rows (385 MB before the fix)"


def test_sheet_extent_is_checked_before_calamine_allocates_it(tmp_path: Path) -> None:
    # issue 13 item 1: one value at XFD1048576 aborted the process (a 512 GB allocation).
    path = tmp_path / "far.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Date", "Amount"])
    sheet.append(["01/01/2024", 1.5])
    sheet["AB500000"] = "x"  # 500,000 rows x 28 columns: past 10,000,000 cells
    book.save(path)
    assert error(path) == (
        f'{path}: sheet "Sheet" spans 500,000 rows x 28 columns (to AB500000); batchpay reads '
        "at most 10,000,000 cells: delete the stray cells far from the data, or save the data "
        "to a new sheet"
    )
    sheet["AB500000"] = None
    sheet["Z300000"] = "x"  # 7,800,000 cells: read (and the stray cell is named)
    book.save(path)
    assert 'sheet "Sheet" row 300000 has 26 fields' in error(path)


def test_rows_and_columns_past_excels_limits_in_a_sheet_are_refused(tmp_path: Path) -> None:
    # A hand-written ref can point past Excel's last row or column; calamine would allocate it.
    source = tmp_path / "source.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Date", "Amount"])
    sheet["A5"] = "far"
    book.save(source)
    for ref, message in (("A2000000", "has 2,000,000 rows; batchpay reads at most 1,048,576"),
                         ("ZZZ1", "has 18,278 columns; batchpay reads at most 16,384")):
        path = tmp_path / f"{ref}.xlsx"
        with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as edited:
            for info in original.infolist():
                data = original.read(info)
                if info.filename == "xl/worksheets/sheet1.xml":
                    data = data.replace(b'r="A5"', f'r="{ref}"'.encode())
                edited.writestr(info, data)
        assert error(path) == f'{path}: sheet "Sheet" {message} (Excel\'s limit)'


def ods(path: Path, rows_xml: str) -> Path:
    """An .ods whose one sheet "Sheet1" has ``rows_xml`` (table-row elements)."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"'
        ' office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sheet1">'
        f"{rows_xml}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)  # fmt: skip
        archive.writestr("META-INF/manifest.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
            'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" '
            'manifest:media-type="text/xml"/></manifest:manifest>'))
        archive.writestr("content.xml", content)
    return path


def text_cell(text: str, repeat: int = 1) -> str:
    attribute = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return (f'<table:table-cell office:value-type="string"{attribute}><text:p>{text}</text:p>'
            "</table:table-cell>")  # fmt: skip


def test_ods_error_cells_and_repeats(tmp_path: Path) -> None:
    # Error cells as LibreOffice writes them (=NA(), =1/0): calamine reads them as "".
    error_cell = ('<table:table-cell table:formula="of:=NA()" office:value-type="string" '
                  'office:string-value="" calcext:value-type="error"><text:p>#N/A</text:p>'
                  "</table:table-cell>")  # fmt: skip
    header = f"<table:table-row>{text_cell('Ref')}{text_cell('Amount')}</table:table-row>"
    padding = ('<table:table-row table:number-rows-repeated="1048570"><table:table-cell '
               'table:number-columns-repeated="1024"/></table:table-row>')  # LibreOffice's
    path = ods(tmp_path / "errors.ods", header + f"<table:table-row>{error_cell}"
               f"{text_cell('1.00')}</table:table-row>" + padding)  # fmt: skip
    table = read_table(path, spec())
    assert rows(table) == [(2, ["#N/A", "1.00"])]
    assert [f.problem for f in table.failures[2]] == ["is a spreadsheet error"]
    wide = ods(tmp_path / "wide.ods", header + f"<table:table-row>{text_cell('x', 5000)}"
               "</table:table-row>")  # fmt: skip
    assert error(wide) == (
        f'{wide}: sheet "Sheet1": a cell with a value is repeated 5,000 times '
        "(table:number-columns-repeated) in row 2"
    )
    few = ods(tmp_path / "few.ods", header + '<table:table-row table:number-rows-repeated="3">'
              f"{text_cell('R')}{text_cell('2.00')}</table:table-row>")  # fmt: skip
    assert rows(read_table(few, spec())) == [(n, ["R", "2.00"]) for n in (2, 3, 4)]


# ------------------------------------------------------------------------------- performance


def assert_reads_quickly(path: Path, last_amount: str) -> None:
    # CPU time of this process, not wall-clock time: other processes on a busy machine do not
    # slow it down, so the bound holds under load (the read is single-process)
    started = time.process_time()
    table = read_table(path, spec())
    elapsed = time.process_time() - started
    assert len(table.frame) == 100_000
    assert table.frame.at[100_001, "Amount"] == last_amount
    assert elapsed < 5, f"{path.name}: {elapsed:.2f}s"


def test_100k_row_csv_reads_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    body = "".join(f'{i:020d},{i}.{i % 100:02d},"memo, {i}"\n' for i in range(100_000))
    path.write_text("Ref,Amount,Memo\n" + body, encoding="utf-8")
    assert_reads_quickly(path, "99999.99")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("BATCHPAY_SLOW") != "1", reason="set BATCHPAY_SLOW=1")
def test_100k_row_xlsx_reads_in_seconds(tmp_path: Path) -> None:
    # Writing the workbook with openpyxl takes ~5s; reading it back ~1s.
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Rows")
    sheet.append(["Ref", "Amount", "Memo"])
    for i in range(100_000):
        sheet.append([f"{i:020d}", i + 0.25, f"memo {i}"])
    path = tmp_path / "big.xlsx"
    book.save(path)
    assert_reads_quickly(path, "99999.25")
