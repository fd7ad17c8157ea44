"""The bad-input corpus: one row per malformed file or job spec, and what batchpay must say.

Each case builds its input (and, if it breaks the job, its spec) into a folder at test time.
``message`` must appear in the output and name the place: ``{input}`` and ``{job}`` stand for
the file names, so the text is e.g. ``bad.csv: line 3: ...`` or ``job.yaml: fields.x: ...``.

Exit codes: ``validate`` is the code of ``batchpay validate``; ``execute`` that of
``batchpay run --execute --yes`` (a row failure in validate is a refusal, 2, in execute).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from badinput_files import (
    BASE_SPEC,
    GOOD_ROW,
    GOOD_ROW_2,
    HEADER,
    csv_text,
    empty_xlsx,
    encrypted_xlsx,
    error_cells_xlsx,
    far_cell_xlsx,
    garbage,
    huge_line_csv,
    ods_bytes,
    ole_garbage,
    one_bad_row,
    row,
    truncated,
    xlsx_bytes,
    zip_bomb_xlsx,
)

Content = bytes | Callable[[Path], None]  # bytes to write, or a writer for large files
Spec = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    file: str  # input file name
    content: Content
    validate: int
    message: str
    execute: int | None = None  # default: 2 when validate fails, else validate's code
    spec: Callable[[Spec], Spec | str | bytes] | None = None  # edits the base job, or raw text
    posted: int = 0  # writes the sandbox ledger must hold after execute
    text_cells: tuple[str, ...] = ()  # values that must be plain text cells in the report
    execute_message: str | None = None  # when execute says something else than validate
    xfail: str | None = None  # a known bug outside the corpus's reach: strict xfail, reason
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def execute_code(self) -> int:
        if self.execute is not None:
            return self.execute
        return 2 if self.validate else 0

    def build(self, folder: Path) -> tuple[Path, Path]:
        """Write the job spec and the input file into ``folder``; return (job, input)."""
        folder.mkdir(parents=True, exist_ok=True)
        job = folder / "job.yaml"
        spec = self.spec(copy.deepcopy(BASE_SPEC)) if self.spec else copy.deepcopy(BASE_SPEC)
        if isinstance(spec, dict):
            spec = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
        job.write_bytes(spec if isinstance(spec, bytes) else spec.encode())
        path = folder / self.file
        if callable(self.content):
            self.content(path)
        else:
            path.write_bytes(self.content)
        return job, path

    def expected(self, job: Path, path: Path, mode: str = "validate") -> str:
        message = (
            self.execute_message if mode == "execute" and self.execute_message else self.message
        )
        return message.format(input=path.name, job=job.name)


# ------------------------------------------------------------------------------ spec helpers


def setting(path: str, value: object) -> Callable[[Spec], Spec]:
    """An edit of the base job: ``setting("input.skip_lines", "two")``."""

    def edit(spec: Spec) -> Spec:
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
        return spec

    return edit


def raw(text: str | bytes) -> Callable[[Spec], str | bytes]:
    return lambda _spec: text


def base_yaml() -> str:
    return yaml.safe_dump(BASE_SPEC, sort_keys=False)


def writer(make: Callable[[], bytes]) -> Callable[[Path], None]:
    """Content made only when the case runs (the bombs take a moment to build)."""

    def write(path: Path) -> None:
        path.write_bytes(make())

    return write


def sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes that uses no disk."""
    with path.open("wb") as handle:
        handle.truncate(size)


def wide_header(columns: int) -> tuple[str, ...]:
    return tuple(f"C{i}" for i in range(columns))


def with_integer_field(spec: Spec) -> Spec:
    spec["fields"]["sequence"] = {"column": "Reference", "type": "integer"}
    return spec


GOOD = csv_text([GOOD_ROW, GOOD_ROW_2]).encode()
BILLION_LAUGHS = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)

ROW = 'line 3, column "{column}": "{value}" {problem}'


def cell(column: str, value: str, problem: str) -> str:
    return ROW.format(column=column, value=value, problem=problem)


# fmt: off
CASES: list[Case] = [
    # ---------------------------------------------------------------- files that are not CSV
    Case("truncated-xlsx", "deposits.xlsx", truncated(xlsx_bytes([GOOD_ROW])), 2,
         "{input}: the workbook is damaged or truncated"),
    Case("zip-bomb", "deposits.xlsx", writer(lambda: zip_bomb_xlsx(600)), 2,
         "{input}: the workbook would unpack to 600 MB",
         tags=frozenset({"subprocess"})),
    Case("zip-bomb-lying-headers", "deposits.xlsx",
         writer(lambda: zip_bomb_xlsx(300, declare=2000)), 2,
         '{input}: sheet "Sheet1" cannot be read: I/O error: File is larger than its declared'),
    Case("line-of-100-mb", "deposits.csv", huge_line_csv, 2,
         "{input}: line 3 is longer than 1 MB", tags=frozenset({"subprocess", "huge"})),
    Case("field-of-200-kb", "deposits.csv", one_bad_row(reference="R" * 200_000), 2,
         "{input}: line 3: a field is longer than 131072 characters"),
    Case("binary-garbage", "deposits.csv", garbage(), 2, "{input}: line 1 contains NUL bytes",
         tags=frozenset({"subprocess"})),
    Case("nul-byte-in-line-3", "deposits.csv", one_bad_row(reference="NW\x00-7"), 2,
         "{input}: line 3 contains NUL bytes"),
    Case("mixed-encodings", "deposits.csv",
         GOOD + csv_text([row(reference="CAFÉ-1")], header=None).encode("cp1252"), 2,
         "{input}: line 4 is not valid utf-8 (byte 0xc9)"),
    Case("utf16-file-read-as-utf8", "deposits.csv", GOOD.decode().encode("utf-16"), 2,
         "{input}: the file is UTF-16 text; set input.encoding: utf-16"),
    # issue 13 item 10: UTF-16LE without a BOM was called "a binary file".
    Case("utf16le-without-bom", "deposits.csv", GOOD.decode().encode("utf-16-le"), 2,
         "{input}: the file is UTF-16 text without a byte-order mark; set input.encoding: "
         "utf-16-le"),
    Case("utf16le-without-bom-declared", "deposits.csv", GOOD.decode().encode("utf-16-le"), 0,
         "2 rows", posted=2, spec=setting("input.encoding", "utf-16-le")),
    # issue 13 item 10: the password message never fired ("Cannot detect file format").
    Case("password-protected-xlsx", "deposits.xlsx", writer(encrypted_xlsx), 2,
         "{input}: the workbook is password-protected; save a copy without the password"),
    Case("wrong-encoding-declared", "deposits.csv", GOOD, 2,
         "{input}: line 3 is not valid utf-16-le", spec=setting("input.encoding", "utf-16-le")),
    Case("unknown-encoding-declared", "deposits.csv", GOOD, 2,
         "{job}: input.encoding: unknown encoding 'klingon'",
         spec=setting("input.encoding", "klingon")),
    Case("encoding-zlib", "deposits.csv", GOOD, 2,  # issue 13 item 9: codecs, not encodings
         "{job}: input.encoding: 'zlib' is not a text encoding",
         spec=setting("input.encoding", "zlib")),
    Case("encoding-rot13", "deposits.csv", GOOD, 2,
         "{job}: input.encoding: 'rot13' is not a text encoding",
         spec=setting("input.encoding", "rot13")),
    Case("bom-is-accepted", "deposits.csv", b"\xef\xbb\xbf" + GOOD, 0, "2 rows",
         execute=0, posted=2),
    Case("bom-in-cp1252-file", "deposits.csv", b"\xef\xbb\xbf" + GOOD, 2,
         '{input}: column "Date" not found in the header (line 1)',
         spec=setting("input.encoding", "cp1252")),
    Case("empty-file", "deposits.csv", b"", 2, "{input}: the file is empty"),
    Case("blank-lines-only", "deposits.csv", b"\n\r\n  \n", 2,
         "{input}: the file is empty (only blank lines)"),
    Case("header-only", "deposits.csv", csv_text([]).encode(), 2,
         "{input}: no data rows after the header (line 1)"),
    Case("header-missing", "deposits.csv", csv_text([GOOD_ROW, GOOD_ROW_2], header=None).encode(),
         2, '{input}: columns "Invoice", "Amount", "Currency", "Date", "Reference" not found in '
         "the header (line 1)"),
    Case("header-twice", "deposits.csv", csv_text([GOOD_ROW, HEADER, GOOD_ROW_2]).encode(), 1,
         cell("Date", "Date", "is not a date in format DD/MM/YYYY")),
    Case("column-named-twice", "deposits.csv",
         csv_text([(*GOOD_ROW, "1.00")], header=(*HEADER, "Amount")).encode(), 2,
         '{input}: the header (line 1) repeats "Amount" (columns 4, 6)'),
    Case("ragged-row-too-long", "deposits.csv", GOOD + b"04/11/2026,NW-9,INV-1002,1.00,USD,x,y\n",
         2, '{input}: line 4 has 7 fields, the header (line 1: "Date | Reference | Invoice | '
         'Amount | Currency") has 5; if line 1 is not the header, set input.skip_lines'),
    Case("ragged-row-too-short", "deposits.csv", csv_text([GOOD_ROW, GOOD_ROW_2[:3]]).encode(), 1,
         'line 3, column "Amount": "" is missing: the row has 3 fields, the header (line 1'),
    # issue 12 item 14: the short row's amount lands in another column; a filter on an empty
    # amount must not hide it as "skipped".
    Case("short-row-hidden-by-a-filter", "deposits.csv",
         csv_text([GOOD_ROW, (*GOOD_ROW_2[:3], "", "USD"), ("05/11/2026", "NW-0005", "INV-1017")]
                  ).encode(), 1, 'line 4, column "Amount": "" is missing: the row has 3 fields',
         spec=setting("filters", [{"column": "Amount", "empty": True, "reason": "no amount"}])),
    Case("short-rows-allowed-by-the-spec", "deposits.csv",
         csv_text([GOOD_ROW, GOOD_ROW_2[:4]]).encode(), 0, "2 rows", posted=2,
         spec=lambda s: {**s, "input": {"allow_short_rows": True},
                         "fields": {**s["fields"], "currency": {"column": "Currency",
                                                                "default": "USD"}}}),
    Case("skip-lines-too-small", "deposits.csv", b"Statement\n" + GOOD, 2,
         '{input}: line 2 has 5 fields, the header (line 1: "Statement") has 1; if line 1 is not '
         "the header, set input.skip_lines"),
    Case("skip-footer-eats-every-row", "deposits.csv", GOOD, 2,
         "{input}: skip_footer: 5 drops every data row after the header (line 1) (2 rows)",
         spec=setting("input.skip_footer", 5)),
    Case("unclosed-quote", "deposits.csv", GOOD + b'05/11/2026,"NW-3,INV-1003,1.00,USD\n', 2,
         "{input}: line 4: a quoted field is never closed"),
    Case("xlsx-that-is-really-csv", "deposits.xlsx", GOOD, 2,
         "{input} is not an Excel workbook (it looks like text); set input.format: csv"),
    Case("csv-that-is-really-xlsx", "deposits.csv", xlsx_bytes([GOOD_ROW]), 2,
         "{input}: looks like an xlsx or ods workbook, not CSV text",
         spec=setting("input.format", "csv")),
    Case("xls-that-is-really-html", "deposits.xls",
         b"<html><body><table><tr><td>Date</td></tr></table></body></html>", 2,
         "{input} is not an Excel workbook (it looks like HTML or XML)"),
    Case("ods-that-is-really-xlsx", "deposits.ods", xlsx_bytes([GOOD_ROW, GOOD_ROW_2]), 0,
         "2 rows", spec=setting("input.format", "ods"), execute=0, posted=2),
    Case("xlsx-that-is-really-ods", "deposits.xlsx", ods_bytes([HEADER, GOOD_ROW]), 0, "1 row",
         execute=0, posted=1),
    Case("xls-with-garbage-inside", "deposits.xls", ole_garbage(), 2,
         "{input}: the workbook cannot be read"),
    Case("empty-sheet", "deposits.xlsx", empty_xlsx(), 2, '{input}: sheet "Sheet1" is empty'),
    Case("sheet-that-does-not-exist", "deposits.xlsx", xlsx_bytes([GOOD_ROW]), 2,
         '{input}: no sheet "Deposits"; the sheets are "Sheet1"',
         spec=setting("input.sheet", "Deposits"), tags=frozenset({"subprocess"})),
    Case("sheet-number-out-of-range", "deposits.xlsx", xlsx_bytes([GOOD_ROW]), 2,
         "{input}: no sheet number 3 (0-based); the workbook has 1",
         spec=setting("input.sheet", 3)),
    # issue 13 item 4: read until memory ran out, then a MemoryError traceback.
    Case("dev-zero-through-a-symlink", "deposits.csv", lambda path: path.symlink_to("/dev/zero"),
         2, "{input}: is not a regular file (a device, pipe or socket)",
         tags=frozenset({"subprocess"})),
    Case("named-pipe", "deposits.csv", os.mkfifo, 2,
         "{input}: is not a regular file (a device, pipe or socket)"),
    Case("workbook-over-500-mb", "deposits.xlsx", lambda path: sparse(path, 501 * 2**20), 2,
         "{input}: the file is 501 MB; batchpay reads files up to 500 MB"),
    # issue 13 item 5: "Invalid column index 18279" traceback; a 189,099-character message.
    Case("20000-columns", "deposits.csv", csv_text([GOOD_ROW], header=wide_header(20_000)).encode(),
         2, "{input}: line 1 has 20,000 fields; batchpay reads at most 16,384 columns"),
    Case("16000-columns-none-the-job-reads", "deposits.csv",
         csv_text([GOOD_ROW], header=wide_header(16_000)).encode(), 2,
         '"C28", "C29", … (16,000 columns in all)'),
    # issue 13 item 3: 20 MB of blank lines took 3.8 GB; 10 MB of ",,,," rows 613 MB.
    Case("20-mb-of-blank-lines", "deposits.csv", GOOD + b"\n" * 20 * 2**20, 0, "2 rows",
         posted=2, tags=frozenset({"slow"})),
    Case("10-mb-of-comma-rows", "deposits.csv", GOOD + b",,,,\n" * 2 * 2**20, 0, "2 rows",
         posted=2, tags=frozenset({"slow"})),
    Case("csv-over-1048576-rows", "deposits.csv", GOOD + b"1,2\n" * 2**20, 2,
         "{input}: line 1048578: more than 1,048,576 rows", tags=frozenset({"slow"})),
    # issue 13 item 1: one value at XFD1048576 made calamine ask for 512 GB and abort (exit 134).
    Case("xlsx-cell-at-XFD1048576", "deposits.xlsx", far_cell_xlsx(), 2,
         '{input}: sheet "Sheet1" spans 1,048,576 rows x 16,384 columns (to XFD1048576); '
         "batchpay reads at most 10,000,000 cells", tags=frozenset({"subprocess"})),
    Case("xlsx-cell-at-XFD1048576-named-ods", "deposits.ods", far_cell_xlsx(), 2,
         '{input}: sheet "Sheet1" spans 1,048,576 rows x 16,384 columns',
         spec=setting("input.format", "ods")),
    Case("xlsx-cell-at-XFD1048576-named-xls", "deposits.xls", far_cell_xlsx(), 2,
         '{input}: sheet "Sheet1" spans 1,048,576 rows x 16,384 columns',
         spec=setting("input.format", "xls")),
    # issue 13 item 3: a 1 KB ODS whose data row is repeated a million times.
    Case("ods-row-repeated-a-million-times", "deposits.ods",
         ods_bytes([HEADER, GOOD_ROW], repeat_last=1_000_000), 2,
         '{input}: sheet "Sheet1": row 2 is repeated 1,000,000 times (table:number-rows-repeated)'),
    # issue 12 item 16: the bank's sheet first, a stray "Fix and re-upload" sheet later.
    Case("stray-fix-sheet-does-not-win", "deposits.xlsx",
         xlsx_bytes([GOOD_ROW, GOOD_ROW_2], extra_sheets=["Fix and re-upload"]), 0,
         'sheet "Fix and re-upload" was not read: the workbook is not a batchpay report',
         posted=2),
    # ------------------------------------------------------------------ cells that are wrong
    Case("amount-negative", "deposits.csv", one_bad_row(amount="-12.50"), 1,
         cell("Amount", "-12.50", "is too small (expected more than 0)")),
    Case("amount-zero", "deposits.csv", one_bad_row(amount="0.00"), 1,
         cell("Amount", "0.00", "is too small (expected more than 0)")),
    Case("amount-too-many-decimals", "deposits.csv", one_bad_row(amount="12.505"), 1,
         cell("Amount", "12.505", "has 3 decimals; USD allows 2")),
    Case("yen-with-decimals", "deposits.csv", one_bad_row(amount="1500.5", currency="JPY"), 1,
         cell("Amount", "1500.5", "has 1 decimal; JPY allows 0")),
    Case("amount-1e5", "deposits.csv", one_bad_row(amount="1e5"), 1,
         cell("Amount", "1e5", "is in scientific notation"), tags=frozenset({"subprocess"})),
    Case("amount-nan", "deposits.csv", one_bad_row(amount="NaN"), 1,
         cell("Amount", "NaN", "is not an amount")),
    Case("amount-infinity", "deposits.csv", one_bad_row(amount="Infinity"), 1,
         cell("Amount", "Infinity", "is not an amount")),
    Case("amount-double-minus", "deposits.csv", one_bad_row(amount="--5"), 1,
         cell("Amount", "--5", "has more than one sign")),
    Case("amount-1,2,3", "deposits.csv", one_bad_row(amount="1,2,3"), 1,
         cell("Amount", "1,2,3", "is not an amount")),
    Case("amount-enormous", "deposits.csv", one_bad_row(amount="9" * 25 + ".00"), 1,
         cell("Amount", "9" * 25 + ".00", "is too large")),
    Case("amount-int64-max", "deposits.csv", one_bad_row(amount="92233720368547758.07"), 1,
         cell("Amount", "92233720368547758.07", "is too large (expected at most "
              "9,999,999,999,999.99 USD)")),  # issue 13 item 13: accepted, shown as a float
    Case("amount-of-100000-digits", "deposits.csv", one_bad_row(amount="1" * 100_000), 1,
         'line 3, column "Amount": "' + "1" * 20),
    Case("integer-enormous", "deposits.csv",
         csv_text([row(reference="1001"), row(reference="1" * 40, invoice="INV-1017")]).encode(), 1,
         cell("Reference", "1" * 40, "is not a whole number"), spec=with_integer_field),
    Case("currency-unknown", "deposits.csv", one_bad_row(currency="XYZ"), 1,
         cell("Amount", "12.50", "has no valid currency")),
    Case("currency-unknown-in-spec", "deposits.csv", GOOD, 2,
         "{job}: fields.amount.currency: 'XBP' is not an ISO 4217 currency code",
         spec=lambda s: {**s, "fields": {**s["fields"], "amount": {
             "column": "Amount", "type": "money", "currency": "XBP"}}}),
    Case("date-31-february", "deposits.csv", one_bad_row(date="31/02/2026"), 1,
         cell("Date", "31/02/2026", "is not a date: February 2026 has no day 31")),
    Case("date-year-1900", "deposits.csv", one_bad_row(date="01/01/1900"), 1,
         cell("Date", "01/01/1900", "is out of range (year 1900)")),
    Case("date-year-9999", "deposits.csv", one_bad_row(date="31/12/9999"), 1,
         cell("Date", "31/12/9999", "is out of range (year 9999)")),
    Case("date-excel-serial-not-allowed", "deposits.csv", one_bad_row(date="45292"), 1,
         cell("Date", "45292", "is not a date in format DD/MM/YYYY")),
    # Issue 13 item 11: escape sequences, BEL and a bidi override reach no terminal raw.
    Case("escape-codes-in-a-cell", "deposits.csv", one_bad_row(amount="1\x1b[2J\x07\u202e2"), 1,
         cell("Amount", "1?[2J??2", "is not an amount"),
         execute_message='first: line 3, column "Amount": "1?[2J??2" is not an amount'),
    Case("escape-codes-in-the-header", "deposits.csv",
         csv_text([GOOD_ROW], header=("Date", "Ref\x1b]0;pwned\x07erence\u202e", "Invoice",
                                      "Amount", "Currency")).encode(), 2,
         '{input}: column "Reference" not found in the header (line 1); found: "Date", '
         '"Ref?]0;pwned?erence?"'),
    # Invoice ids are free text in Chargebee: the call is checked, found missing, never sent.
    Case("invoice-id-dot-dot-slash", "deposits.csv", one_bad_row(invoice="../customers/x"), 0,
         "would post", execute=1, posted=1, execute_message="invoice ../customers/x not found"),
    Case("invoice-id-percent-2f", "deposits.csv", one_bad_row(invoice="INV-1001%2F..%2Fx"), 0,
         "would post", execute=1, posted=1,
         execute_message="invoice INV-1001%2F..%2Fx not found"),
    Case("invoice-id-query-and-fragment", "deposits.csv",
         one_bad_row(invoice="INV-1017?limit=100#x"), 0, "would post", execute=1, posted=1,
         execute_message="invoice INV-1017?limit=100#x not found"),
    Case("invoice-id-empty", "deposits.csv", one_bad_row(invoice=""), 1,
         cell("Invoice", "", "is empty")),
    Case("invoice-id-too-long", "deposits.csv", one_bad_row(invoice="INV-" + "9" * 60), 1,
         cell("Invoice", "INV-" + "9" * 60, "is too long (expected at most 50 characters)")),
    Case("duplicate-business-key", "deposits.csv",
         csv_text([GOOD_ROW, row(invoice="INV-1002")]).encode(), 0,
         "duplicate of line 2 in this file", posted=1),
    Case("reference-of-20-digits-kept", "deposits.csv",
         one_bad_row(reference="12345678901234567890"), 0, "2 rows", posted=2,
         text_cells=("12345678901234567890",)),
    Case("formulas-in-csv-cells", "deposits.csv",
         csv_text([row(reference='=HYPERLINK("http://evil.example/","click")'),
                   row(reference="+1+1", invoice="INV-1002"),
                   row(reference="@SUM(A1:A9)", invoice="INV-1017")]).encode(),
         0, "3 rows", posted=3,
         text_cells=('=HYPERLINK("http://evil.example/","click")', "+1+1", "@SUM(A1:A9)")),
    Case("formula-cells-in-xlsx", "deposits.xlsx",
         xlsx_bytes([GOOD_ROW, ["03/11/2026", '=HYPERLINK("http://evil.example/","x")',
                                "INV-1002", "=10+2.5", "USD"]]), 1,
         'sheet "Sheet1" row 3, column "Reference": "" is empty'),
    Case("huge-number-cell-in-xlsx", "deposits.xlsx",
         xlsx_bytes([GOOD_ROW, ["03/11/2026", 1e20, "INV-1002", 1e20, "USD"]]), 1,
         'sheet "Sheet1" row 3, column "Reference": "1e+20" looks like a long number the '
         "spreadsheet shortened"),
    # issue 12 item 15: error cells read as "" and collapsed two payments into one key.
    Case("error-cells-in-xlsx-keys", "deposits.xlsx",
         error_cells_xlsx([GOOD_ROW, row(invoice="INV-1002"), row(invoice="INV-1017")],
                          {"B3": "#N/A", "B4": "#N/A"}), 1,
         'sheet "Sheet1" row 3, column "Reference": "#N/A" is a spreadsheet error'),
    Case("error-text-in-csv", "deposits.csv", one_bad_row(amount="#VALUE!"), 1,
         cell("Amount", "#VALUE!", "is a spreadsheet error")),
    # issue 12 item 18: 12345678901234.56 was posted as ...234.60.
    Case("amount-of-16-digits-in-xlsx", "deposits.xlsx",
         xlsx_bytes([GOOD_ROW, ["03/11/2026", "NW-0003", "INV-1017", 12345678901234.56, "USD"]]),
         1, 'sheet "Sheet1" row 3, column "Amount": "12345678901234.56" has more than 15 '
         "significant digits"),
    # ------------------------------------------------------------------------- broken specs
    Case("spec-unknown-key", "deposits.csv", GOOD, 2, "{job}: colour: unknown key",
         spec=setting("colour", "red"), tags=frozenset({"subprocess"})),
    Case("spec-unknown-nested-key", "deposits.csv", GOOD, 2,
         "{job}: fields.amount.curency: unknown key",
         spec=setting("fields.amount.curency", "USD")),
    Case("spec-wrong-type", "deposits.csv", GOOD, 2,
         "{job}: input.skip_lines: Input should be a valid integer",
         spec=setting("input.skip_lines", "two")),
    Case("spec-fields-is-a-list", "deposits.csv", GOOD, 2,
         "{job}: fields: Input should be a valid dictionary",
         spec=setting("fields", ["invoice_id", "amount"])),
    Case("spec-bad-regex", "deposits.csv", GOOD, 2,
         "{job}: fields.invoice_id.regex: regex does not compile",
         spec=setting("fields.invoice_id.regex", "(INV-")),
    Case("spec-bad-marker-regex", "deposits.csv", GOOD, 2,
         "{job}: input.drop_rows_matching: regex does not compile",
         spec=setting("input.drop_rows_matching", "[Total")),
    Case("spec-bad-filter-regex", "deposits.csv", GOOD, 2,
         "{job}: filters.0.matches: regex does not compile",
         spec=setting("filters", [{"column": "Reference", "matches": "*x", "reason": "r"}])),
    # Issue 13 item 2: patterns that make a backtracking engine run for ever; RE2 is linear.
    Case("regex-catastrophic-field", "deposits.csv",
         csv_text([row(reference="NW0001"), row(reference="a" * 5000 + "!", invoice="INV-1017")
                   ]).encode(), 1,
         'line 3, column "Reference": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
         '… (5,001 characters)" does not match the regex of fields.reference',
         spec=setting("fields.reference.regex", r"^(\w+)*$")),
    Case("regex-catastrophic-filter", "deposits.csv",
         csv_text([GOOD_ROW, row(reference="NW-" + "a" * 5000, invoice="INV-1002"),
                   row(reference="NW-" + "a" * 60 + "b", invoice="INV-1017")]).encode(), 0,
         "test transfer", posted=2,
         spec=setting("filters", [{"column": "Reference", "matches": "^NW-(a|aa)+$",
                                   "reason": "test transfer"}])),
    Case("regex-catastrophic-marker", "deposits.csv",
         csv_text([GOOD_ROW, ("x" * 5000 + "y",), ("x" * 60, "NW-0003", "INV-1017", "1.00", "USD")
                   ]).encode(), 1,
         'line 4, column "Date": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" is '
         "not a date", spec=setting("input.drop_rows_matching", "^(x+x+)+y$")),
    Case("regex-with-backreference", "deposits.csv", GOOD, 2,
         "{job}: fields.reference.regex: regex does not compile: invalid escape sequence: \\1 (a "
         "backreference \\1 is not supported: batchpay runs regexes with RE2",
         spec=setting("fields.reference.regex", r"(\w)\1")),
    Case("regex-with-lookbehind", "deposits.csv", GOOD, 2,
         "{job}: input.drop_rows_matching: regex does not compile: invalid perl operator: (?<",
         spec=setting("input.drop_rows_matching", "(?<=Total)")),
    Case("spec-base-url-path-traversal", "deposits.csv", GOOD, 2,  # issue 13 item 9
         "{job}: site.base_url: base URL 'http://127.0.0.1:9/api/v2/../../_sandbox' must not "
         "contain . or .. path segments",
         spec=setting("site.base_url", "http://127.0.0.1:9/api/v2/../../_sandbox")),
    Case("spec-base-url-with-secret-and-bad-scheme", "deposits.csv", GOOD, 2,  # item 12
         "{job}: site.base_url: base URL must not carry credentials (user:password@)",
         spec=setting("site.base_url", "ftp://test_SECRET_abc123@example.com/api/v2")),
    Case("spec-bad-strftime", "deposits.csv", GOOD, 2,  # issue 13 item 10
         "{job}: fields.date.formats: '%d/%m/%Y%' is not a strptime format (stray % in format",
         spec=setting("fields.date.formats", ["%d/%m/%Y%"])),
    Case("spec-date-format-without-directives", "deposits.csv", GOOD, 2,
         "{job}: fields.date.formats: 'dd/mm/yyyy' reads no day, month or year",
         spec=setting("fields.date.formats", ["dd/mm/yyyy"])),
    Case("spec-lookup-keys-differ-by-case", "deposits.csv", GOOD, 2,  # issue 13 item 10
         "{job}: fields.currency.lookup: keys 'USD' and 'usd' are the same key",
         spec=setting("fields.currency.lookup", {"USD": "USD", "usd": "EUR"})),
    Case("spec-template-names-missing-column", "deposits.csv", GOOD, 2,
         '{input}: column "Nope" not found in the header (line 1)',
         spec=setting("fields.reference", {"template": "{Nope}-{Reference}"})),
    Case("spec-schema-missing", "deposits.csv", GOOD, 2, "{job}: schema: no schema 'nope'",
         spec=setting("schema", "nope")),
    Case("spec-v1-apply-payments", "deposits.csv", GOOD, 2,
         "{job}: action.type: apply_payments does not exist in Chargebee API v1",
         spec=lambda s: {**s, "api_version": "v1", "action": {
             "type": "apply_payments", "params": {"invoice_id": "invoice_id"}}}),
    Case("spec-yaml-syntax-error", "deposits.csv", GOOD, 2, "{job}: line 5 not valid YAML",
         spec=raw("name: x\nfields:\n  a: {column: A}\n  b: [unclosed\naction: x\n"),
         tags=frozenset({"subprocess"})),
    Case("spec-duplicate-key", "deposits.csv", GOOD, 2,  # issue 12 item 17: the last one won
         "{job}: line 19: key 'reference' is given twice (first on line 17); keep one",
         spec=raw(base_yaml().replace("  reference:\n    column: Reference\n",
                                      "  reference:\n    column: Reference\n"
                                      "  reference:\n    column: Invoice\n"))),
    Case("spec-empty-file", "deposits.csv", GOOD, 2, "{job}: a job spec is a YAML mapping",
         spec=raw("")),
    Case("spec-is-a-list", "deposits.csv", GOOD, 2, "{job}: a job spec is a YAML mapping",
         spec=raw("- name: x\n- fields: {}\n")),
    Case("spec-not-utf8", "deposits.csv", GOOD, 2, "{job}: cannot read job spec",
         spec=raw(base_yaml().replace("badinput", "d\xe9p\xf4ts").encode("latin-1"))),
    Case("spec-missing-name", "deposits.csv", GOOD, 2, "{job}: name: field required",
         spec=lambda s: {k: v for k, v in s.items() if k != "name"}),
    Case("spec-unknown-param", "deposits.csv", GOOD, 2,
         "{job}: action: record_payment has no parameter amount_cents",
         spec=setting("action.params.amount_cents", "amount")),
    Case("spec-bad-timezone", "deposits.csv", GOOD, 2,
         "{job}: fields.date.timezone: unknown time zone 'Mars/Olympus'",
         spec=setting("fields.date.timezone", "Mars/Olympus")),
    Case("spec-bad-time-of-day", "deposits.csv", GOOD, 2,
         "{job}: fields.date.time_of_day: time_of_day must be HH:MM",
         spec=setting("fields.date.time_of_day", "noon")),
    Case("spec-two-char-delimiter", "deposits.csv", GOOD, 2,
         "{job}: input.delimiter: String should have at most 1 character",
         spec=setting("input.delimiter", ";;")),
    Case("spec-newline-delimiter", "deposits.csv", GOOD, 2,
         "{job}: input.delimiter: a line break cannot separate or quote fields",
         spec=setting("input.delimiter", "\n")),
    Case("spec-delimiter-is-the-quotechar", "deposits.csv", GOOD, 2,
         "{job}: input: delimiter and quotechar are both ';'",
         spec=lambda s: {**s, "input": {"delimiter": ";", "quotechar": ";"}}),
    Case("spec-billion-laughs", "deposits.csv", GOOD, 2,
         "{job}: description: Input should be a valid string",
         spec=raw(BILLION_LAUGHS + base_yaml() + "description: *i\n")),
    Case("spec-json-with-huge-number", "deposits.csv", GOOD, 2,
         "{job}: site.concurrency: Input should be less than or equal to 100",
         spec=raw(json.dumps({**BASE_SPEC, "site": {"concurrency": 10**40}}))),
]
# fmt: on
