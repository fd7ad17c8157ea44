"""OFX 1.x (SGML, leaf elements left unclosed) and 2.x (XML) bank and card statements.

A tolerant scan of the tags rather than a schema-checked parse: real files put two ``STMTRS``
in one ``STMTTRNRS``, close some leaves and not others, and pad values with spaces. The text is
UTF-8 when it decodes as UTF-8, else the header's ``CHARSET`` (files that declare ``USASCII``
carry Windows-1252 bytes), else Windows-1252.
"""

from __future__ import annotations

import codecs
import re

from batchpay.errors import InputError
from batchpay.statements import Entry, decimal_text, decode_text

_TOKEN = re.compile(r"<(/?)([A-Za-z0-9.]+)>([^<]*)")
_CHARSET = re.compile(rb"CHARSET\s*:\s*([A-Za-z0-9-]+)|encoding=\"([A-Za-z0-9_-]+)\"")
_STATEMENTS = {"STMTRS", "CCSTMTRS"}
_AROUND_TRANSACTIONS = {"BANKTRANLIST", "STMTRS", "CCSTMTRS"}
_AMOUNT = re.compile(r"^([+-]?)(\d+(?:[.,]\d*)?|[.,]\d+)$")


def read(path: str, data: bytes, encoding: str | None) -> tuple[list[Entry], list[str]]:
    text = decode_text(data, encoding, _declared_charset(data))
    entries: list[Entry] = []
    statement: dict[str, str] = {}
    current: Entry | None = None
    values: dict[str, str] = {}
    number = 0
    for match in _TOKEN.finditer(text):
        closing, name, value = match[1] == "/", match[2].upper(), match[3].strip()
        ends_transaction = name == "STMTTRN" or (closing and name in _AROUND_TRANSACTIONS)
        if current is not None and ends_transaction:  # </STMTTRN> may be left out, too
            entries.append(_entry(path, current, values, statement, number))
            current = None
        if name in _STATEMENTS and not closing:
            statement, number = {"line": str(_line(text, match.start()))}, 0
        elif name == "STMTTRN" and not closing:
            number += 1
            current, values = Entry(line=_line(text, match.start())), {}
        elif not closing and value:
            (values if current is not None else statement).setdefault(name, value)
    if not entries and "<OFX>" not in text.upper():
        raise InputError(f"{path}: no <OFX> element: this is not an OFX file")
    return entries, []


def _declared_charset(data: bytes) -> str:
    match = _CHARSET.search(data[:2048])
    name = (match[1] or match[2]).decode("ascii") if match else ""
    if name.isdigit():
        name = f"cp{name}"
    try:
        return codecs.lookup(name).name if name and name.upper() != "NONE" else "cp1252"
    except LookupError:
        return "cp1252"


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _entry(path: str, entry: Entry, values: dict[str, str], statement: dict[str, str],
           number: int) -> Entry:  # fmt: skip
    entry.statement_id = statement.get("ACCTID", "") + (
        f" {statement['DTEND'][:8]}" if statement.get("DTEND") else ""
    )
    entry.entry_number = str(number)
    entry.account = statement.get("ACCTID", "")
    entry.currency = values.get("CURRENCY", "") or statement.get("CURDEF", "")
    raw = values.get("TRNAMT", "")
    match = _AMOUNT.match(raw)
    if not match:
        raise InputError(f"{path}: {entry.describe()}: TRNAMT {raw!r} is not an amount")
    amount = decimal_text(path, entry.describe(), match[2])
    entry.credit_debit = "DBIT" if match[1] == "-" and amount.strip("0.") else "CRDT"
    entry.amount = f"-{amount}" if entry.credit_debit == "DBIT" else amount
    entry.booking_date = _date(path, entry, values.get("DTPOSTED", ""), "DTPOSTED")
    entry.value_date = _date(path, entry, values.get("DTAVAIL", values.get("DTUSER", "")), "")
    entry.bank_reference = values.get("FITID", "")
    entry.customer_reference = values.get("CHECKNUM", "") or values.get("REFNUM", "")
    entry.counterparty_name = values.get("NAME", "") or values.get("PAYEEID", "")
    entry.counterparty_account = values.get("ACCTID", "")
    entry.remittance_text = values.get("MEMO", "")
    entry.transaction_code = values.get("TRNTYPE", "")
    return entry


def _date(path: str, entry: Entry, text: str, name: str) -> str:
    if not text:
        if name:
            raise InputError(f"{path}: {entry.describe()}: the transaction has no {name}")
        return ""
    if not re.match(r"^\d{8}", text):
        raise InputError(f"{path}: {entry.describe()}: date {text!r} is not YYYYMMDD...")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
