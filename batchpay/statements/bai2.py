"""BAI2 cash-management files (US corporate banking).

Records end at a ``/`` or at the end of the line (many banks leave ``16`` and ``88`` records
unterminated); several ``/``-terminated records may share a line. An ``88`` record continues the
record before it: with nothing between when the line before was a full 80-character record (the
bank wrapped mid-word), with a space otherwise; tagged ``88,KEY: value`` lines (``EREF:``,
``REMI:``, ``DBNM:``...) fill the matching fields. Amounts carry no decimal point: the
currency's minor units (``60000`` USD = 600.00). The direction comes from the type code only:
100-399 credit, 400-699 debit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batchpay.errors import InputError
from batchpay.money import UnknownCurrency, currency_exponent
from batchpay.statements import Entry, decode_text, signed

_RECORD_SPLIT = re.compile(r"/\s*(?=(?:01|02|03|16|49|88|98|99),)")
_FULL_RECORD = 80
_TAGS = ("EREF", "REMI", "CREF", "CRNM", "DBNM", "CACT", "DACT", "CABA", "DABA", "CBIC", "DBIC",
         "IDNM", "CHKN")  # fmt: skip
_TAGGED = re.compile(rf"^({'|'.join(_TAGS)}):\s*(.*)$")


@dataclass
class _Record:
    line: int
    text: str
    full: bool  # the physical line was a full fixed-length record


def read(path: str, data: bytes, encoding: str | None) -> tuple[list[Entry], list[str]]:
    records = _records(decode_text(data, encoding))
    if not records or not records[0].text.startswith("01,"):
        raise InputError(f"{path}: line 1: a BAI2 file starts with a 01 (file header) record")
    entries: list[Entry] = []
    notes: list[str] = []
    group_id = group_currency = as_of = account = currency = ""
    number = total = 0
    for record, continuation in _with_continuations(records):
        code, _, rest = record.text.partition(",")
        fields = rest.split(",")
        if code == "02":
            group_id = f"{_at(fields, 1)} {_at(fields, 3)}".strip()
            as_of = _date(path, record, _at(fields, 3))
            group_currency = _at(fields, 5)
        elif code == "03":
            account, number = _at(fields, 0), 0
            currency = _currency(path, record, _at(fields, 1) or group_currency or "USD")
            more = [f for r in continuation for f in r.text[3:].split(",")]
            total = _summary_total([*fields[2:], *more])
        elif code == "16":
            number += 1
            entry = Entry(statement_id=group_id, entry_number=str(number), account=account,
                          booking_date=as_of, currency=currency, line=record.line)  # fmt: skip
            _transaction(path, entry, rest, continuation)
            entries.append(entry)
            total += _whole(_at(fields, 1))
        elif code == "49" and _whole(_at(fields, 0)) != total:
            notes.append(
                f"account {account} (line {record.line}): the 49 trailer's control total is "
                f"{_at(fields, 0)}, the account's amounts add up to {total}: the totals do not "
                "reconcile (read anyway)"
            )
    return entries, notes


def _summary_total(fields: list[str]) -> int:
    """The sum of an account record's summary amounts: (type, amount, count, funds) groups."""
    total, i = 0, 0
    while i + 1 < len(fields):
        total += _whole(fields[i + 1])
        funds = fields[i + 3].strip() if i + 3 < len(fields) else ""
        i += 4 + {"S": 3, "V": 2}.get(funds, 0)
        if funds == "D" and i < len(fields) and fields[i].strip().isdigit():
            i += 1 + 2 * int(fields[i])
    return total


def _whole(text: str) -> int:
    digits = text.strip()
    return int(digits) if re.fullmatch(r"[+-]?\d+", digits) else 0


def _records(text: str) -> list[_Record]:
    records: list[_Record] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.rstrip()
        if not stripped:
            continue
        full = len(line) >= _FULL_RECORD
        for part in _RECORD_SPLIT.split(stripped):
            records.append(_Record(number, part.rstrip().removesuffix("/"), full))
    return records


def _with_continuations(records: list[_Record]) -> list[tuple[_Record, list[_Record]]]:
    grouped: list[tuple[_Record, list[_Record]]] = []
    for record in records:
        if record.text.startswith("88,") and grouped:
            grouped[-1][1].append(record)
        else:
            grouped.append((record, []))
    return grouped


def _transaction(path: str, entry: Entry, rest: str, continuation: list[_Record]) -> None:
    type_code, amount_text, funds, tail = [*rest.split(",", 3), "", "", ""][:4]
    entry.transaction_code = type_code.strip()
    entry.credit_debit = _direction(path, entry, type_code.strip())
    entry.amount = signed(_amount(path, entry, amount_text), entry.credit_debit)
    tail = _skip_funds_detail(funds.strip(), tail)
    bank_ref, customer_ref, text = [*tail.split(",", 2), "", ""][:3]
    entry.bank_reference = bank_ref.strip()
    entry.customer_reference = customer_ref.strip()
    free: list[str] = [text.strip()] if text.strip() else []
    tagged: dict[str, str] = {}
    glue_next = " "
    for record in continuation:
        body = record.text[3:]
        match = _TAGGED.match(body.strip())
        if match:
            tagged.setdefault(match[1], match[2].strip())
        elif free and glue_next == "":
            free[-1] += body
        else:
            free.append(body.strip())
        glue_next = "" if record.full else " "
    entry.end_to_end_id = tagged.get("EREF", "")
    entry.remittance_text = tagged.get("REMI", "")
    credit = entry.credit_debit == "CRDT"
    entry.counterparty_name = tagged.get("DBNM" if credit else "CRNM", "")
    entry.counterparty_account = tagged.get("DACT" if credit else "CACT", "")
    if tagged.get("CHKN") and not entry.customer_reference:
        entry.customer_reference = tagged["CHKN"]
    description = " ".join(t for t in free if t)
    if not entry.remittance_text and not tagged:
        entry.remittance_text = description
    else:
        entry.additional_info = description


def _skip_funds_detail(funds: str, tail: str) -> str:
    """Funds type S carries 3 availability amounts, V a date and time, D a counted list."""
    if funds == "S":
        return tail.split(",", 3)[-1]
    if funds == "V":
        return tail.split(",", 2)[-1]
    if funds == "D":
        count, _, after = tail.partition(",")
        pairs = int(count) if count.strip().isdigit() else 0
        return after.split(",", 2 * pairs)[-1] if pairs else after
    return tail


def _direction(path: str, entry: Entry, code: str) -> str:
    if code.isdigit() and 100 <= int(code) <= 399:
        return "CRDT"
    if code.isdigit() and 400 <= int(code) <= 699:
        return "DBIT"
    raise InputError(
        f"{path}: {entry.describe()}: type code {code!r} does not say credit or debit "
        "(BAI2 credits are 100-399, debits 400-699)"
    )


def _amount(path: str, entry: Entry, text: str) -> str:
    digits = text.strip().lstrip("+")
    if not digits.isdigit():
        raise InputError(
            f"{path}: {entry.describe()}: amount {text.strip()!r} is not a whole number of "
            "minor units (BAI2 amounts have no decimal point: 60000 = 600.00)"
        )
    exponent = currency_exponent(entry.currency)
    digits = digits.lstrip("0").rjust(exponent + 1, "0")
    if not exponent:
        return digits
    return f"{digits[:-exponent]}.{digits[-exponent:]}"


def _currency(path: str, record: _Record, code: str) -> str:
    try:
        currency_exponent(code)
    except UnknownCurrency:
        raise InputError(f"{path}: line {record.line}: currency {code!r} is not ISO 4217") from None
    return code.strip().upper()


def _date(path: str, record: _Record, yymmdd: str) -> str:
    text = yymmdd.strip()
    if not re.fullmatch(r"\d{6}", text):
        raise InputError(f"{path}: line {record.line}: as-of date {text!r} is not YYMMDD")
    return f"20{text[:2]}-{text[2:4]}-{text[4:]}"


def _at(fields: list[str], index: int) -> str:
    return fields[index].strip() if index < len(fields) else ""
