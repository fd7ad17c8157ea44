"""``batchpay init FILE``: sniff a bank export and write a commented starter job spec.

    init_job ─┬─ a statement format (camt053, mt940, bai2, ofx): a ready job, fixed fields
              └─ a CSV or spreadsheet:
                   encoding (charset-normalizer) -> delimiter (csv.Sniffer) -> preamble,
                   header, marker rows -> column roles from ALL values -> fields, filters, key

Nothing is guessed silently: every inferred choice is a comment in the written spec saying
what was seen ("12 of 12 dates read as DD/MM/YYYY; 3 have a day > 12"). Where the file cannot
say (the currency, an ambiguous date order), init stops and asks for the option.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from batchpay.dates import describe_format
from batchpay.errors import InputError
from batchpay.money import (
    CURRENCY_EXPONENTS,
    MoneyError,
    UnknownCurrency,
    currency_exponent,
    format_amount,
    parse_amount,
)
from batchpay.patterns import PatternError, capture, compile_pattern
from batchpay.prepare import PreparedInput, prepare
from batchpay.presets import Preset, recognise
from batchpay.read import detect_format, sheet_records
from batchpay.spec import JobSpec, parse_spec
from batchpay.statements import FORMATS as STATEMENT_FORMATS

DATE_ORDERS = ("DMY", "MDY")
PREVIEW_ROWS = 8
_SAMPLE_LINES = 40  # data lines csv.Sniffer looks at
_WESTERN = ("cp1252", "iso8859-1", "iso8859-15")
_CANDIDATE_ENCODINGS = ["utf_8", "cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2",
                        "cp1257", "iso8859_13", "cp1251"]  # fmt: skip
_SYMBOL_CURRENCY = {"€": "EUR", "£": "GBP", "$": "USD", "¥": "JPY", "zł": "PLN", "R$": "BRL"}
_CREDIT_WORDS = ("credit", "deposit", "paid in", "entrate", "haben", "gutschrift", "income",
                 "inflow", "in (")  # fmt: skip
_DEBIT_WORDS = ("debit", "withdrawal", "paid out", "uscite", "soll", "lastschrift", "expense",
                "outflow", "out (")  # fmt: skip
_AMOUNT_WORDS = ("amount", "betrag", "määrä", "maara", "importo", "montant", "bedrag", "gross",
                 "kwota", "valor", "summe", "total", "net", "amt")  # fmt: skip
_NOT_AMOUNT_WORDS = ("balance", "saldo", "running", "fee", "number", "nr", "#", "code", "id")
_BOOKING_WORDS = ("booking", "buchung", "kirjaus", "transaction date", "posted", "date", "data",
                  "datum", "fecha", "päivä")  # fmt: skip
_VALUE_WORDS = ("value", "valuta", "arvo", "wert")
_REFERENCE_WORDS = ("arkistotunnus", "transaction id", "reference", "ref", "fitid", "archive",
                    "id")  # fmt: skip
_INVOICE_WORDS = ("invoice", "viite", "reference", "ref", "rechnung", "factur", "fattura",
                  "description", "text", "memo", "purpose", "verwendungszweck", "descrizione",
                  "viesti", "title", "details")  # fmt: skip
_TOTAL = re.compile(r"(?i)^(?:totals?|sum|summe|saldo|balance|closing|opening|yhteensä|totale|"
                    r"gesamt|somme|suma|razem)\b")
_FLAG_VALUES = {"D", "C", "DR", "CR", "DEBIT", "CREDIT", "S", "H", "+", "-"}
_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_TOKEN = re.compile(r"^\S{6,}$")
_AMOUNT_FORMATS = ((".", None), (",", None), (".", ","), (",", "."), (",", " "), (".", "'"),
                   (".", " "))  # fmt: skip


class InitNeedsOption(InputError):
    """The file cannot say something init needs (the currency, the date order)."""


@dataclass
class InitResult:
    """The written spec's text, the spec itself, and the file prepared with it."""

    spec_text: str
    spec: JobSpec
    prepared: PreparedInput
    format: str


def init_job(
    path: str | Path,
    *,
    currency: str | None = None,
    invoice_pattern: str | None = None,
    date_order: str | None = None,
    name: str | None = None,
    presets: bool = True,
) -> InitResult:
    """Sniff ``path`` and return a commented starter job spec, and the file read with it.

    A file recognised as a known export (``batchpay.presets``) gets that preset, unless
    ``presets`` is false."""
    path = Path(path)
    if currency is not None:
        _check_currency(currency)
    pattern = _invoice_regex(invoice_pattern) if invoice_pattern else None
    if date_order is not None and date_order.upper() not in DATE_ORDERS:
        raise InitNeedsOption(f"--date-order must be DMY or MDY, not {date_order!r}")
    fmt = detect_format(path)
    job_name = name or _job_name(path)
    if fmt in STATEMENT_FORMATS:
        text = _statement_job(job_name, fmt, pattern)
    else:
        sniffed = _sniff(path, fmt)
        preset = _recognise(sniffed) if presets else None
        if preset is not None:
            text = _preset_job(preset, path)
        else:
            text = _table_job(job_name, path, sniffed, currency, pattern,
                              date_order.upper() if date_order else None)  # fmt: skip
    spec = parse_spec(yaml.safe_load(text), source="the written spec")
    return InitResult(text, spec, prepare(spec, path, path.parent), fmt)


def _job_name(path: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")
    return (slug or "bank-export")[:64]


def _check_currency(code: str) -> None:
    try:
        currency_exponent(code)
    except UnknownCurrency as exc:
        raise InitNeedsOption(f"--currency: {exc}") from None


def _invoice_regex(given: str) -> str:
    """A regex as given, or one made from a sample invoice id (INV-0042 -> INV-\\d+)."""
    if not re.search(r"[\\\[\](){}*+?|^$]", given):
        given = "".join(r"\d+" if part.isdigit() else re.escape(part)
                        for part in re.split(r"(\d+)", given) if part)  # fmt: skip
    try:
        compile_pattern(given)
    except PatternError as exc:
        raise InitNeedsOption(f"--invoice-pattern: {exc}") from None
    return given


# ------------------------------------------------------------------------- statement formats


def _statement_job(name: str, fmt: str, pattern: str | None) -> str:
    sources = ["creditor_reference", "remittance_text", "end_to_end_id", "customer_reference"]
    if pattern:
        template = " ".join(f"{{{source}}}" for source in sources)
        invoice = [f"    template: {_quote(template)}", f"    regex: {_quote(pattern)}"]
        invoice_note = f"# invoice_id: the first match of --invoice-pattern in {', '.join(sources)}"
    else:
        invoice = [f"    columns: [{', '.join(sources)}]   # the first non-empty one"]
        invoice_note = ("# invoice_id: no --invoice-pattern given: the first non-empty of "
                        f"{', '.join(sources)}; add a regex")  # fmt: skip
    return "\n".join([
        f"# Written by batchpay init. The file is a {fmt} bank statement: its fields are fixed",
        "# (see docs/formats.md); reversals are never rows, the run notes name them.",
        invoice_note,
        "# business_key: not set: a statement row's key is its account and bank_reference,",
        "# so a payment reported in two files (camt.054, then camt.053) posts once.",
        f"name: {name}",
        "api_version: v2",
        "input:",
        f"  format: {fmt}",
        "fields:",
        "  invoice_id:",
        *invoice,
        "    required: false",
        "  amount: {column: amount, type: money, currency_field: currency}",
        "  currency: {column: currency}",
        '  date: {column: booking_date, type: date, formats: ["%Y-%m-%d"]}',
        "  reference: {column: bank_reference, required: false}",
        "filters:",
        "  - {field: amount, le: 0, reason: 'outgoing payment, not a deposit'}",
        "  - {field: invoice_id, empty: true, reason: no invoice reference in the payment}",
        "action:",
        "  type: record_payment",
        "  params:",
        "    invoice_id: invoice_id",
        "    amount: amount",
        "    payment_method: {const: bank_transfer}",
        "    reference_number: reference",
        "    date: date",
        "",
    ])


# ----------------------------------------------------------------------------------- presets


def _recognise(sniffed: _Sniffed) -> Preset | None:
    rows = [(sniffed.delimiter or ",").join(r) for r in sniffed.rows[:3]]
    width = max((len(r) for r in sniffed.rows), default=0)
    return recognise(sniffed.raw_header, rows, width)


def _preset_job(preset: Preset, path: Path) -> str:
    return (f"# Written by batchpay init from {path.name}: recognised as the preset "
            f'"{preset.name}" ({preset.description}) by {preset.recognised_by()}.\n'
            "# A hand-checked spec for this export; rerun init with --no-preset to infer one "
            "instead.\n" + preset.text())


# ------------------------------------------------------------------------------ CSV sniffing


@dataclass
class _Sniffed:
    """What the file looks like: how to read it, and its rows as text."""

    fmt: str
    sheet: str | None
    encoding: str | None
    delimiter: str | None
    skip_lines: int
    header: list[str] | None
    rows: list[list[str]]
    markers: list[str]
    comments: list[str] = field(default_factory=list)
    raw_header: list[str] | None = None  # the header row as written
    footer: int = 0  # trailing total lines


def _sniff(path: Path, fmt: str) -> _Sniffed:
    comments: list[str] = []
    encoding = delimiter = sheet = None
    if fmt == "csv":
        data = path.read_bytes()
        encoding, note = _encoding(data)
        comments.append(note)
        text = data.decode(_codec(encoding))
        delimiter, note = _delimiter(text)
        comments.append(note)
        records = list(csv.reader(text.splitlines(), delimiter=delimiter, quotechar='"'))
    else:
        records, sheet = sheet_records(path, fmt)
        comments.append(f'# sheet "{sheet}" (the first one)')
    return _layout(fmt, sheet, encoding, delimiter, records, comments)


def _codec(encoding: str) -> str:
    return "utf-8-sig" if encoding == "utf-8" else encoding


def _encoding(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", "# encoding: UTF-8 (the file starts with a byte-order mark)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        kind = "plain ASCII" if data.isascii() else "valid UTF-8"
        return "utf-8", f"# encoding: utf-8 (the bytes are {kind})"
    from charset_normalizer import from_bytes  # imported only for a non-UTF-8 file

    best = from_bytes(data, cp_isolation=_CANDIDATE_ENCODINGS).best()
    guess = codecs.lookup(best.encoding).name if best is not None else "cp1252"
    c1 = re.search(rb"[\x80-\x9f]", data) is not None
    western = "cp1252" if c1 else "iso8859-1"
    if guess not in _WESTERN and data.decode(guess, "replace") == data.decode(western, "replace"):
        chosen = western
        why = f"charset-normalizer proposes {guess}, which reads these bytes as {western} does"
    else:
        chosen, why = guess, f"charset-normalizer: {guess}"
    chosen = {"iso8859-1": "iso-8859-1"}.get(chosen, chosen)
    if chosen == "iso-8859-1" and c1:
        chosen = "cp1252"
    return chosen, f"# encoding: {chosen} (not UTF-8; {why})"


def _delimiter(text: str) -> tuple[str, str]:
    """csv.Sniffer's choice, unless another delimiter splits more lines into more fields."""
    lines = [line for line in text.splitlines() if line.strip()]
    sample = "\n".join(lines[-_SAMPLE_LINES:])
    scores = {d: _width_mode(lines, d) for d in (",", ";", "\t", "|")}
    best = max(scores, key=lambda d: (scores[d][0] > 1, scores[d][1], scores[d][0]))
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        sniffed = None
    width, count = scores[best]
    if sniffed is not None and scores[sniffed] == scores[best]:
        found, how = sniffed, f"csv.Sniffer; {count} lines have {width} fields"
    else:
        found = best
        how = f"{count} lines have {width} fields" + (
            f"; csv.Sniffer proposed {_shown(sniffed)}" if sniffed else "")
    return found, f"# delimiter: {_shown(found)} ({how})"


def _shown(delimiter: str) -> str:
    return repr({"\t": "\\t"}.get(delimiter, delimiter))


def _width_mode(lines: list[str], delimiter: str) -> tuple[int, int]:
    widths = Counter(_width(cells) for cells in csv.reader(lines, delimiter=delimiter))
    widths.pop(0, None)
    width, count = widths.most_common(1)[0] if widths else (0, 0)
    return width, count


def _width(cells: Sequence[str]) -> int:
    """Cells up to the last filled one (trailing delimiters are not columns)."""
    filled = [i for i, cell in enumerate(cells) if cell.strip()]
    return filled[-1] + 1 if filled else 0


def _layout(fmt: str, sheet: str | None, encoding: str | None, delimiter: str | None,
            records: list[list[str]], comments: list[str]) -> _Sniffed:  # fmt: skip
    """Preamble, header (or none) and marker rows, from the rows' widths."""
    widths = Counter(_width(r) for r in records if _width(r) >= 2)
    if not widths:
        raise InputError("the file has no rows with two or more fields: nothing to map")
    mode = max(width for width, count in widths.items() if count == max(widths.values()))
    start = next(i for i, r in enumerate(records) if _width(r) >= max(2, mode - 1))
    skip = start
    first = [cell.strip() for cell in records[start]]
    has_header = not any(_looks_like_value(cell) for cell in first)
    body = records[start + 1 :] if has_header else records[start:]
    body = [r for r in body if _filled(r)]
    footer = 0
    while footer < len(body) and _TOTAL.match(_first_filled(body[len(body) - 1 - footer])):
        footer += 1
    if footer:
        comments.append(f"# skip_footer: {footer} (the last {_rows(footer, sheet)} "
                        f"{_first_filled(body[-footer])[:40]!r}...: totals, not payments)")
        body = body[:-footer]
    markers = sorted({_first_filled(r) for r in body if _filled(r) == 1 and mode >= 3})
    rows = [r for r in body if _filled(r) >= 2 or (_filled(r) == 1 and mode < 3)]
    if skip:
        comments.append(f"# skip_lines: {skip} (the {_rows(skip, sheet)} before the header: "
                        f"{_first_filled(records[0])[:50]!r}...)" if has_header else
                        f"# skip_lines: {skip} (the {_rows(skip, sheet)} before the first "
                        "data row)")  # fmt: skip
    comments.append(f"# header: {'yes' if has_header else 'none: the first row holds data'}"
                    f"; {len(rows)} data rows, most {mode} fields wide")  # fmt: skip
    if markers:
        comments.append(f"# drop_rows_matching: {len(markers)} one-cell marker rows among "
                        "the data (named in the run notes when dropped)")  # fmt: skip
    width = max((len(r) for r in rows), default=mode)
    header = _header(first, width) if has_header else None
    return _Sniffed(fmt, sheet, encoding, delimiter, skip, header,
                    [_padded(r, width) for r in rows], markers, comments,
                    first if has_header else None, footer)  # fmt: skip


def _rows(n: int, sheet: str | None = None) -> str:
    unit = "row" if sheet is not None else "line"
    return unit if n == 1 else f"{n} {unit}s"


def _header(cells: list[str], width: int) -> list[str]:
    names = list(cells) + [""] * (width - len(cells))
    return [name or f"Column {i + 1}" for i, name in enumerate(names)]


def _padded(cells: list[str], width: int) -> list[str]:
    return [c.strip() for c in cells] + [""] * (width - len(cells))


def _filled(cells: Sequence[str]) -> int:
    return sum(1 for cell in cells if cell.strip())


def _first_filled(cells: Sequence[str]) -> str:
    return next((cell.strip() for cell in cells if cell.strip()), "")


def _looks_like_value(cell: str) -> bool:
    return bool(_DMY.match(cell) or _ISO_DATE.match(cell) or _ISO_DATETIME.match(cell)
                or re.fullmatch(r"[+-]?\d[\d.,' ]*", cell))  # fmt: skip


# ------------------------------------------------------------------------------ column roles


@dataclass
class _Column:
    index: int
    name: str
    values: list[str]  # the non-empty ones

    @property
    def folded(self) -> str:
        return self.name.casefold()

    def says(self, words: Sequence[str]) -> bool:
        """A word of the header starts with one of ``words`` ("id" is not in "Paid in")."""
        return any(re.search(rf"(?<![^\W\d_]){re.escape(word)}", self.folded) for word in words)


@dataclass
class _DateRole:
    column: _Column
    format: str
    comment: str


@dataclass
class _AmountRole:
    columns: list[_Column]
    decimal: str
    thousands: str | None
    comment: str


def _columns(sniffed: _Sniffed) -> list[_Column]:
    names = sniffed.header or [f"Column {i + 1}" for i in range(len(sniffed.rows[0]))]
    return [
        _Column(i, name, [r[i] for r in sniffed.rows if i < len(r) and r[i].strip()])
        for i, name in enumerate(names)
    ]


def _date_role(column: _Column, date_order: str | None) -> _DateRole | None:
    values = column.values
    if not values:
        return None
    if all(_ISO_DATE.match(v) for v in values):
        return _DateRole(column, "%Y-%m-%d", f"# {len(values)} of {len(values)} dates read "
                         "as YYYY-MM-DD")  # fmt: skip
    if all(_ISO_DATETIME.match(v) for v in values):
        return _DateRole(column, "%Y-%m-%dT%H:%M:%S", f"# {len(values)} of {len(values)} "
                         "dates read as YYYY-MM-DDTHH:MM:SS (spreadsheet date cells)")  # fmt: skip
    matches = [_DMY.match(v) for v in values]
    if not all(matches) or len({m[2] for m in matches if m}) != 1:
        return None
    first = [int(m[1]) for m in matches if m]
    second = [int(m[3]) for m in matches if m]
    if max(first) > 31 or max(second) > 31 or (max(first) > 12 and max(second) > 12):
        return None
    sep, year = matches[0][2], "%Y" if len(matches[0][4]) == 4 else "%y"  # type: ignore[index]
    day_first = sum(n > 12 for n in first)
    month_first = sum(n > 12 for n in second)
    if day_first:
        order, why = "DMY", f"{_have(day_first)} a day > 12 in front"
    elif month_first:
        order, why = "MDY", f"{_have(month_first)} a day > 12 in the middle"
    elif date_order:
        order, why = date_order, "no value decides the order: --date-order says so"
    else:
        raise InitNeedsOption(
            f'column "{column.name}": {len(values)} dates like "{values[0]}" and none has a '
            "number above 12, so DD/MM and MM/DD both fit: run again with --date-order DMY "
            "or --date-order MDY"
        )
    if date_order and order != date_order and (day_first or month_first):
        raise InitNeedsOption(
            f'column "{column.name}": --date-order {date_order} contradicts the file: {why}'
        )
    fmt = sep.join(("%d", "%m", year) if order == "DMY" else ("%m", "%d", year))
    return _DateRole(column, fmt, f'# {len(values)} of {len(values)} dates in "{column.name}" '
                     f"read as {describe_format(fmt)}; {why}")  # fmt: skip


def _have(n: int) -> str:
    return "1 has" if n == 1 else f"{n} have"


def _amount_format(values: list[str], named: bool = False) -> tuple[str, str | None] | None:
    """The (decimal, thousands) that reads every value, preferring the simplest; None if the
    column holds no decimal amounts (whole numbers only are ids, counts or references, unless
    the header names the column as money: ``named``)."""
    if not values:
        return None
    decimals = any(re.search(r"\d[.,]\d{1,2}$|\d[.,]$", _bare(v)) for v in values)
    if not decimals and not named and not any(_has_money_mark(v) for v in values):
        return None
    if any(re.fullmatch(r"0\d+", _bare(v)) for v in values):
        return None  # leading zeros: a reference, not an amount
    for decimal, thousands in _AMOUNT_FORMATS:
        if all(_reads(v, decimal, thousands) for v in values):
            return decimal, thousands
    return None


def _money_named(column: _Column) -> bool:
    return column.says(_CREDIT_WORDS + _DEBIT_WORDS + _AMOUNT_WORDS) and not column.says(
        _NOT_AMOUNT_WORDS
    )


def _bare(value: str) -> str:
    return re.sub(r"[^\d.,]", "", value)


def _has_money_mark(value: str) -> bool:
    return bool(re.search(r"[€£$¥]|^\(.*\)$", value))


def _reads(value: str, decimal: str, thousands: str | None) -> bool:
    try:
        parse_amount(value, decimal=decimal, thousands=thousands)
    except (MoneyError, ValueError):
        return False
    return True


def _symbol_currency(values: list[str]) -> str | None:
    found = {code for v in values for symbol, code in _SYMBOL_CURRENCY.items() if symbol in v}
    return found.pop() if len(found) == 1 else None


def _is_currency_column(column: _Column) -> bool:
    return bool(column.values) and all(v.upper() in CURRENCY_EXPONENTS for v in column.values)


# --------------------------------------------------------------------------- writing the job


def _table_job(name: str, path: Path, sniffed: _Sniffed, currency: str | None,
               pattern: str | None, date_order: str | None) -> str:  # fmt: skip
    columns = _columns(sniffed)
    if sniffed.header is None:
        columns = _name_headerless(columns, date_order)
    notes = list(sniffed.comments)
    dates = [role for c in columns if (role := _date_role(c, date_order))]
    amounts = {c.index: fmt for c in columns if not _is_currency_column(c)
               and (fmt := _amount_format(c.values, _money_named(c)))}  # fmt: skip
    date = _pick_date(dates)
    amount = _pick_amount(columns, amounts, notes)
    money = _money_lines(columns, amount, currency, notes)
    reference = _pick_reference(columns, dates, amounts)
    fields = ["fields:"]
    fields += _invoice_lines(columns, pattern, notes, {c.index for c in amount.columns})
    fields += money
    if date is not None:
        notes.append(date.comment)
        fields += _date_lines(date, columns, notes)
    if reference is not None:
        notes.append(f'# reference: "{reference.name}" holds a different value on every row '
                     "(the bank's transaction id): it is the business key")  # fmt: skip
        fields += ["  reference:", f"    column: {_quote(reference.name)}"]
        key = ["  business_key: [reference]"]
    else:
        key_fields = _composite_key(sniffed, columns, date, amount)
        fields += [line for c in key_fields for line in
                   (f"  {_field_name(c)}:", f"    column: {_quote(c.name)}", "    required: false")]
        parts = [*(["date"] if date else []), "amount", *(_field_name(c) for c in key_fields)]
        notes.append(f"# business_key: no column is a unique transaction id; {', '.join(parts)} "
                     "together are unique across the file (the description keeps two equal "
                     "payments on one day apart)")  # fmt: skip
        key = [f"  business_key: [{', '.join(parts)}]"]
    params = ["    invoice_id: invoice_id", "    amount: amount",
              "    payment_method: {const: bank_transfer}   # or check, cash, ..."]
    if date is not None:
        params.append("    date: date")
    if reference is not None:
        params.append("    reference_number: reference")
    return "\n".join([
        f"# Written by batchpay init from {path.name}. Every inferred choice is noted below;",
        "# check them, then run: batchpay validate <this spec> <the file>",
        *notes,
        f"name: {name}",
        "api_version: v2",
        *_input_lines(sniffed, columns),
        *fields,
        "filters:",
        "  - {field: amount, le: 0, reason: 'outgoing payment, not a deposit'}",
        "  - {field: invoice_id, empty: true, reason: no invoice reference in the row}",
        "action:",
        "  type: record_payment",
        "  params:",
        *params,
        *key,
        "",
    ])


def _date_lines(date: _DateRole, columns: list[_Column], notes: list[str]) -> list[str]:
    """The date field; with the time of day when the next column holds it (PayPal)."""
    after = next((c for c in columns if c.index == date.column.index + 1), None)
    zone = "    timezone: UTC              # the file does not say: set your bank's zone"
    if after is None or not after.values or not all(_TIME.match(v) for v in after.values):
        return ["  date:", "    type: date", f"    column: {_quote(date.column.name)}",
                f"    formats: [{_quote(date.format)}]", zone]  # fmt: skip
    seconds = ":%S" if all(v.count(":") == 2 for v in after.values) else ""
    notes.append(f'# date: "{after.name}" next to it holds the time of day; both are read')
    template = f"{{{date.column.name}}} {{{after.name}}}"
    return ["  date:", "    type: date", f"    template: {_quote(template)}",
            f"    formats: [{_quote(f'{date.format} %H:%M{seconds}')}]", zone]


def _name_headerless(columns: list[_Column], date_order: str | None) -> list[_Column]:
    """A file without a header: name the columns by what they hold."""
    named: list[_Column] = []
    dates = 0
    for c in columns:
        if _date_role(c, date_order):
            dates += 1
            name = "Booking date" if dates == 1 else "Value date" if dates == 2 else c.name
        elif _is_currency_column(c):
            name = "Currency"
        elif _amount_format(c.values) and "Amount" not in [n.name for n in named]:
            name = "Amount"
        elif any(" " in v for v in c.values) and "Text" not in [n.name for n in named]:
            name = "Text"
        else:
            name = c.name
        named.append(_Column(c.index, name, c.values))
    return named


def _pick_date(dates: list[_DateRole]) -> _DateRole | None:
    if not dates:
        return None
    preferred = [d for d in dates
                 if d.column.says(_BOOKING_WORDS) and not d.column.says(_VALUE_WORDS)]  # fmt: skip
    return (preferred or dates)[0]


def _pick_amount(columns: list[_Column], amounts: dict[int, tuple[str, str | None]],
                 notes: list[str]) -> _AmountRole:  # fmt: skip
    usable = [c for c in columns if c.index in amounts]
    candidates = [c for c in usable if not c.says(_NOT_AMOUNT_WORDS) or c.says(_AMOUNT_WORDS)]
    credit = [c for c in candidates if c.says(_CREDIT_WORDS)]
    debit = [c for c in candidates if c.says(_DEBIT_WORDS)]
    if credit and debit:
        chosen = [credit[0], debit[0]]
        how = f'credit column "{credit[0].name}", debit column "{debit[0].name}"'
    else:
        named = [c for c in candidates if c.says(_AMOUNT_WORDS)]
        if not (named or candidates):
            raise InputError("no column holds amounts (numbers with decimals): nothing to map")
        chosen = [(named or candidates)[0]]
        how = f'signed amounts in "{chosen[0].name}"'
    decimal, thousands = _shared_format([amounts[c.index] for c in chosen], chosen)
    sep = f", thousands {thousands!r}" if thousands else ""
    notes.append(f"# amount: {how}; decimal {decimal!r}{sep} reads all "
                 f"{sum(len(c.values) for c in chosen)} values")  # fmt: skip
    return _AmountRole(chosen, decimal, thousands, how)


def _shared_format(formats: list[tuple[str, str | None]], chosen: list[_Column]
                   ) -> tuple[str, str | None]:  # fmt: skip
    values = [v for c in chosen for v in c.values]
    for decimal, thousands in _AMOUNT_FORMATS:
        if all(_reads(v, decimal, thousands) for v in values) and any(
            f[0] == decimal for f in formats
        ):
            return decimal, thousands
    return formats[0]


def _money_lines(columns: list[_Column], amount: _AmountRole, currency: str | None,
                 notes: list[str]) -> list[str]:  # fmt: skip
    lines = ["  amount:", "    type: money"]
    if len(amount.columns) == 2:
        lines += [f"    credit_column: {_quote(amount.columns[0].name)}",
                  f"    debit_column: {_quote(amount.columns[1].name)}"]  # fmt: skip
    else:
        lines.append(f"    column: {_quote(amount.columns[0].name)}")
        flag = _sign_flag(columns, amount.columns[0])
        if flag is not None:
            lines.append(f"    sign_column: {_quote(flag.name)}")
            shown = ", ".join(sorted({v.upper() for v in flag.values}))
            notes.append(f'# amount: unsigned; the sign is the flag in "{flag.name}" ({shown})')
    if amount.decimal != ".":
        lines.append(f"    decimal: {_quote(amount.decimal)}")
    if amount.thousands:
        lines.append(f"    thousands: {_quote(amount.thousands)}")
    currency_column = next((c for c in columns if _is_currency_column(c)), None)
    symbol = _symbol_currency([v for c in amount.columns for v in c.values])
    header_code = _header_currency(amount.columns)
    extra: list[str] = []
    if currency_column is not None:
        lines.append("    currency_field: currency")
        extra = ["  currency:", f"    column: {_quote(currency_column.name)}"]
        codes = sorted({v.upper() for v in currency_column.values})
        ignored = f"; --currency {currency} not used" if currency else ""
        notes.append(f'# currency: from column "{currency_column.name}" ({", ".join(codes)})'
                     f"{ignored}")
    elif currency is not None:
        lines.append(f"    currency: {currency.upper()}")
        notes.append(f"# currency: {currency.upper()} (--currency)")
    elif code := symbol or header_code:
        lines.append(f"    currency: {code}")
        seen = f'the amounts carry "{_symbol_of(code)}"' if symbol else "the header names it"
        notes.append(f"# currency: {code} ({seen}; a $ could be another dollar: check it)")
    else:
        raise InitNeedsOption(
            "the file names no currency (no currency column, symbol or code): run again "
            "with --currency, e.g. --currency EUR"
        )
    return lines + extra


def _sign_flag(columns: list[_Column], amount: _Column) -> _Column | None:
    """A debit/credit flag column (D/C, DR/CR, S/H, +/-) for an amount column with no signs."""
    if any(v.strip().startswith("-") or v.strip().endswith("-") for v in amount.values):
        return None
    return next((c for c in columns if c.index != amount.index and c.values
                 and {v.strip().upper() for v in c.values} <= _FLAG_VALUES
                 and len({v.strip().upper() for v in c.values}) >= 2), None)  # fmt: skip


def _header_currency(columns: list[_Column]) -> str | None:
    for c in columns:
        for token in re.findall(r"[A-Z]{3}", c.name):
            if token in CURRENCY_EXPONENTS:
                return token
    return None


def _symbol_of(code: str) -> str:
    return next(symbol for symbol, c in _SYMBOL_CURRENCY.items() if c == code)


def _pick_reference(columns: list[_Column], dates: list[_DateRole],
                    amounts: dict[int, tuple[str, str | None]]) -> _Column | None:  # fmt: skip
    dated = {d.column.index for d in dates}
    rows = max(len(c.values) for c in columns)
    unique = [
        c for c in columns
        if c.index not in dated and c.index not in amounts and len(c.values) == rows
        and len(set(c.values)) == rows and rows > 2 and all(_TOKEN.match(v) for v in c.values)
        and all(re.search(r"\d", v) for v in c.values)
    ]  # fmt: skip
    named = [c for c in unique if c.says(_REFERENCE_WORDS)]
    return next(iter(named or unique), None)


def _composite_key(sniffed: _Sniffed, columns: list[_Column], date: _DateRole | None,
                   amount: _AmountRole) -> list[_Column]:  # fmt: skip
    """The fewest text columns that, with the date and amount, tell every row apart."""
    base = [c.index for c in amount.columns] + ([date.column.index] if date else [])
    others = sorted((c for c in columns if c.index not in base and c.values),
                    key=lambda c: -len(set(c.values)))  # fmt: skip
    free_text = [c for c in others if any(" " in v for v in c.values)]
    chosen: list[_Column] = free_text[:1]
    for column in [None, *(c for c in others if c not in chosen)]:
        if column is not None:
            chosen.append(column)
        keys = {tuple(row[i] for i in base + [c.index for c in chosen]) for row in sniffed.rows}
        if len(keys) == len(sniffed.rows):
            return chosen
    return chosen


def _field_name(column: _Column) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.name.casefold()).strip("_") or f"col{column.index}"


def _invoice_lines(columns: list[_Column], pattern: str | None, notes: list[str],
                   amount_columns: set[int]) -> list[str]:  # fmt: skip
    texts = [c for c in columns if c.values and c.index not in amount_columns]
    if pattern:
        compiled = compile_pattern(pattern)
        found = [(len(c.values) - len(capture(compiled, c.values)[1]), c) for c in texts]
        hits, best = max(found, key=lambda pair: pair[0], default=(0, None))
        if not hits or best is None:
            raise InitNeedsOption(
                f"--invoice-pattern {pattern!r} matches no cell of the file; give a sample "
                "invoice id as it appears in the file, or another regex"
            )
        notes.append(f'# invoice_id: --invoice-pattern matches {hits} of {len(best.values)} '
                     f'values of "{best.name}"')  # fmt: skip
        return ["  invoice_id:", f"    column: {_quote(best.name)}",
                f"    regex: {_quote(pattern)}", "    required: false"]
    free_text = sorted((c for c in texts if any(" " in v for v in c.values)),
                       key=lambda c: -len(set(c.values)))  # fmt: skip
    candidates = [c for c in texts if c.says(_INVOICE_WORDS)] or free_text or texts
    chosen = candidates[0]
    listed = ", ".join(f'"{c.name}"' for c in candidates[:5])
    notes.append(f"# invoice_id: no --invoice-pattern given; candidates: {listed}. "
                 f'"{chosen.name}" is used as it is: add a regex (or rerun init with '
                 "--invoice-pattern 'INV-\\d+')")  # fmt: skip
    return ["  invoice_id:", f"    column: {_quote(chosen.name)}", "    required: false"]


def _input_lines(sniffed: _Sniffed, columns: list[_Column]) -> list[str]:
    lines = ["input:", f"  format: {sniffed.fmt}"]
    if sniffed.encoding and sniffed.encoding != "utf-8":
        lines.append(f"  encoding: {sniffed.encoding}")
    if sniffed.delimiter and sniffed.delimiter != ",":
        lines.append(f"  delimiter: {_quote(sniffed.delimiter)}")
    if sniffed.skip_lines:
        lines.append(f"  skip_lines: {sniffed.skip_lines}")
    if sniffed.footer:
        lines.append(f"  skip_footer: {sniffed.footer}")
    if sniffed.header is None:
        names = ", ".join(_quote(c.name) for c in columns)
        lines += ["  header: false", f"  columns: [{names}]"]
    if sniffed.markers:
        alternatives = "|".join(re.escape(m[:40]) for m in sniffed.markers)
        lines.append(f"  drop_rows_matching: {_quote(f'^(?:{alternatives})')}")
    return lines


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'" if text else "''"


# ---------------------------------------------------------------------------------- preview


def preview(result: InitResult, rows: int = PREVIEW_ROWS) -> str:
    """The first rows as the written spec reads them, and what would happen to each."""
    prepared = result.prepared
    spec = prepared.spec
    table = [("row", "date", "amount", "invoice_id", "outcome")]
    valid = {row.position: row for row in prepared.valid}
    for position in range(min(rows, prepared.rows_read)):
        origin = prepared.table.origin(int(prepared.table.frame.index[position]))
        values = {n: v[position] for n, v in prepared.parsed.values.items()}
        currencies = {n: c[position] for n, c in prepared.parsed.currencies.items()}
        amount = values.get("amount")
        currency = currencies.get("amount")
        shown_amount = (f"{format_amount(amount, currency)} {currency}"
                        if isinstance(amount, int) and currency else "?")  # fmt: skip
        outcome = prepared.outcomes.get(position)
        status = "ready" if position in valid else (
            f"{outcome.outcome.value}: {outcome.reason}" if outcome else "?")
        table.append((str(origin), _shown_date(values.get("date"), spec),
                      shown_amount, str(values.get("invoice_id") or "")[:40], status[:60]))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in table]  # fmt: skip
    counts = Counter(o.outcome.value for o in prepared.outcomes.values())
    summary = ", ".join([f"{len(prepared.valid)} ready"] +
                        [f"{n} {kind}" for kind, n in sorted(counts.items())])  # fmt: skip
    return "\n".join([*lines, f"{prepared.rows_read} rows read: {summary}"])


def _shown_date(value: object, spec: JobSpec) -> str:
    if not isinstance(value, int) or "date" not in spec.fields:
        return ""
    zone = ZoneInfo(spec.fields["date"].timezone)
    return datetime.fromtimestamp(value, zone).date().isoformat()
