"""The workbook's cells are rendered by batchpay (``report.cellxml``) into XlsxWriter's row
stream: the same XML XlsxWriter writes for a plain cell, and never its unescaped shortcut."""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from test_report import COLUMNS, raw, records, row, sample

from batchpay.records import Outcome
from batchpay.report import write_report
from batchpay.report.cells import BLANK, CellMaker, Style
from batchpay.report.cellxml import StreamedSheet

BOLD = Style(bold=True)
MONEY = Style(number_format="#,##0.00", align="left", indent=1)
DAY = Style(number_format="yyyy-mm-dd")
TEXTS = ["plain", "a&b<c>d", " leading", "trailing ", "\tTAB", "line\nbreak", "cr\rhere",
         "_x0041_ is literal", "\x01control", "é€😀", "=1+1", "x" * 300]
NUMBERS = [0, -5, 12_345_678_901_234_567, Decimal("-12.50"), Decimal("1.234"), Decimal("0.00"),
           2.5]
# XlsxWriter in constant_memory mode copies a string shaped like this into the XML unescaped
RICH_LOOKALIKE = '<r><t>a</t></r></is></c><c r="Z1"><f>1+1</f><v>2</v></c><c><is><r></r>'


def sheet_data(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    return re.search(r"<sheetData>.*</sheetData>", xml, re.S).group()  # type: ignore[union-attr]


def cells() -> list[tuple[Any, str, Style]]:
    made = [(text, "s", style) for text in TEXTS for style in (Style(), BOLD)]
    made += [(number, "n", style) for number in NUMBERS for style in (Style(), MONEY)]
    made += [(True, "b", Style()), (False, "b", BOLD)]
    made += [(date(2024, 5, 2), "d", DAY), (datetime(2024, 5, 2, 7, 30, 15), "d", DAY)]
    made += [(None, BLANK, BOLD)]
    return made


def by_xlsxwriter(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    maker = CellMaker(wb)
    ws = wb.add_worksheet("S")
    writers = {"s": ws.write_string, "n": ws.write_number, "b": ws.write_boolean,
               "d": ws.write_datetime, BLANK: ws.write_blank}
    for n, (value, kind, style) in enumerate(cells()):
        writers[kind](n, n % 3, value, maker.format(style))
    wb.close()


def by_batchpay(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    maker = CellMaker(wb)
    ws = wb.add_worksheet("S", worksheet_class=StreamedSheet).start(maker)
    for n, parts in enumerate(cells()):
        ws.add_row(n, [None] * (n % 3) + [parts])
    wb.close()


def test_cells_are_the_xml_xlsxwriter_writes(tmp_path: Path) -> None:
    by_xlsxwriter(tmp_path / "theirs.xlsx")
    by_batchpay(tmp_path / "ours.xlsx")
    ours = sheet_data(tmp_path / "ours.xlsx")
    assert ours == sheet_data(tmp_path / "theirs.xlsx")
    # read as Excel and batchpay's reader (calamine) read it: "_x000D_" is a CR, and a literal
    # "_x0041_" stays that text (openpyxl does not undo these escapes in inline strings)
    rows = CalamineWorkbook.from_path(tmp_path / "ours.xlsx").get_sheet_by_name("S").to_python()
    values = [r[n % 3] for n, r in enumerate(rows)]
    expected = [t for t in TEXTS for _ in "ab"]
    assert values[: 2 * len(TEXTS)] == expected


def test_tall_rows_and_order(tmp_path: Path) -> None:
    wb = xlsxwriter.Workbook(str(tmp_path / "r.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet("S", worksheet_class=StreamedSheet).start(CellMaker(wb))
    ws.add_row(0, [("a", "s", Style())])
    ws.add_row(2, [None, ("b", "s", Style())], height=45)
    with pytest.raises(ValueError, match="row 2 comes after row 3"):
        ws.add_row(1, [("c", "s", Style())])
    wb.close()
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")["S"]
    assert [[c.value for c in r] for r in book.iter_rows()] == [["a", None], [None, None],
                                                                 [None, "b"]]
    assert book.row_dimensions[3].height == 45 and book.dimensions == "A1:B3"


def test_text_shaped_like_xml_stays_text_everywhere(tmp_path: Path) -> None:
    """The rich-string look-alike in an input cell, a payment method (Summary's table) and a
    column name (the Fix sheet's header) is text, and no formula reaches the file."""
    base = sample("dry-run", input_columns=(*COLUMNS, RICH_LOOKALIKE))
    cells_in = raw("INV-1", "10.00", "USD", ref=RICH_LOOKALIKE, method=RICH_LOOKALIKE)
    rows = [row(2, Outcome.SKIPPED, cells_in, amount_minor=1000, reason="already paid"),
            row(3, Outcome.WOULD_FAIL, {**cells_in, RICH_LOOKALIKE: RICH_LOOKALIKE},
                amount_minor=1000, reason=RICH_LOOKALIKE)]
    result = replace(base, outcomes=rows, info=replace(base.info, rows_read=2))
    path = write_report(result, tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert not any(b"<f>" in xml for xml in sheets)
    book = openpyxl.load_workbook(path)
    assert records(book["Skipped"])[0]["Reference"] == RICH_LOOKALIKE
    assert records(book["Errors"])[0]["Message"] == RICH_LOOKALIKE
    fix = records(book["Fix and re-upload"])[0]
    assert fix[RICH_LOOKALIKE] == RICH_LOOKALIKE and fix["Method"] == RICH_LOOKALIKE
    summary = [c.value for r in book["Summary"].iter_rows() for c in r]
    assert RICH_LOOKALIKE in summary  # its payment-method line


def test_noncharacters_of_an_input_do_not_break_the_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """U+FFFE and U+FFFF are valid UTF-8 in a CSV but not allowed in XML: written as they are,
    Excel refuses the workbook and openpyxl cannot open it (nor re-read its Fix sheet)."""
    from click.testing import CliRunner

    from batchpay.cli import main

    samples = Path(__file__).resolve().parents[1] / "samples" / "bank-deposits"
    lines = (samples / "deposits.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("THANK YOU", "THANK\uffffYOU\ufffe")
    monkeypatch.chdir(tmp_path)  # the sandbox's state
    data = tmp_path / "deposits.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = tmp_path / "r.xlsx"
    result = CliRunner().invoke(main, ["run", str(samples / "job.yaml"), str(data), "--report",
                                       str(report), "--journal", str(tmp_path / "j.sqlite"),
                                       "-q"])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(report)
    texts = [c for ws in book for r in ws.iter_rows(values_only=True) for c in r
             if isinstance(c, str)]
    assert any(t.endswith("THANK\ufffdYOU\ufffd") for t in texts)


@pytest.mark.parametrize("start", ["\uff1d", "\uff0b", "\uff0d", "\uff20"])  # ＝ ＋ － ＠
def test_full_width_formula_starts_get_the_quote_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    """A Japanese or Chinese Excel takes a full-width ＝ typed (or re-entered) as a formula,
    like its ASCII twin: such a text is marked as text (the quote prefix) too."""
    from click.testing import CliRunner

    from batchpay.cli import main

    samples = Path(__file__).resolve().parents[1] / "samples" / "bank-deposits"
    lines = (samples / "deposits.csv").read_text(encoding="utf-8").splitlines()
    risky = f'{start}HYPERLINK(""http://example.invalid"",""x"")'
    lines[2] = lines[2].replace('"ACME INC PAYMENT INV-1001 THANK YOU"', f'"{risky}"')
    monkeypatch.chdir(tmp_path)  # the sandbox's state
    data = tmp_path / "deposits.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = tmp_path / "r.xlsx"
    result = CliRunner().invoke(main, ["run", str(samples / "job.yaml"), str(data), "--report",
                                       str(report), "--journal", str(tmp_path / "j.sqlite"),
                                       "-q"])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(report)
    cells_of = [c for ws in book for r in ws.iter_rows() for c in r
                if isinstance(c.value, str) and c.value.startswith(start)]
    assert cells_of and all(c.data_type == "s" and c.quotePrefix for c in cells_of)
