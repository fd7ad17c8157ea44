"""SWIFT MT940 statements and MT942 interim reports, with the common bank dialects.

Read line by line so every entry keeps its ``:61:`` line. A ``:86:`` spread over several lines
is joined first: with nothing between when a line is full (65 characters: the bank wrapped it
mid-word, even inside a ``?2n`` marker), with a space otherwise. Then it is read as the German
structured layout (``166?00GUTSCHRIFT?20EREF+...``), as ``/TAG/value`` pairs (Rabobank, ING) or
as free text. ``RC`` (reversal of a credit) is money out and ``RD`` money in; both are reversals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from batchpay.errors import InputError
from batchpay.statements import Entry, decimal_text, decode_text, signed

_TAG = re.compile(r"^:(\d\d[A-Z]?):(.*)$")
_LINE_61 = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?"
    r"(?P<amount>\d+,\d*)(?P<type>[A-Z][A-Z0-9]{3})(?P<refs>.*)$"
)
_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>\d+,\d*)$")
_FULL_LINE = 65
_GVC = re.compile(r"^\d{3}\?")
_SEPA_KEY = re.compile(r"(EREF\+|KREF\+|MREF\+|CRED\+|DEBT\+|SVWZ\+|ABWA\+|ABWE\+|MTLG:)")
_SLASH_TAGS = ("EREF|ORDP|BENM|REMI|ISDT|ADDR|ACCW|NAME|ID|CSID|MARF|PREF|RTRN|BIC|IBAN|"
               "CDTRREF|CDTRREFTP|CD|ISSR|ULTC|ULTD|PURP|SVCL|BUSP|TRCD|CNTP|TRTP|IREF|"
               "EXCH|CHGS|OCMT|ULTB|ULTN")  # fmt: skip
_SLASH_TAG = re.compile(rf"/({_SLASH_TAGS})/")
_ACCOUNT = re.compile(r"^[A-Z0-9]{6,34}$")
_NO_REFERENCE = {"", "NONREF", "NOTPROVIDED"}


@dataclass
class _Field:
    tag: str
    line: int
    lines: list[str] = field(default_factory=list)


@dataclass
class _State:
    path: str
    statement_id: str = ""
    account: str = ""
    currency: str = ""
    number: int = 0
    opening: Decimal | None = None
    moved: Decimal = Decimal(0)
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read(path: str, data: bytes, encoding: str | None) -> tuple[list[Entry], list[str]]:
    text = decode_text(data, encoding).replace("\x01", "").replace("\x03", "")
    state = _State(path)
    reference = previous = ""
    for item in _fields(text.splitlines()):
        content = _joined(item)
        if item.tag == "20":
            reference, state.number, state.opening = content.strip(), 0, None
            state.statement_id = reference
        elif item.tag == "25":
            state.account = content.strip()
        elif item.tag == "28C":
            state.statement_id = f"{reference} {content.strip()}".strip()
        elif item.tag in ("60F", "60M"):
            state.opening, state.currency = _balance(path, item, content)
            state.moved = Decimal(0)
        elif item.tag == "34F":
            state.currency = state.currency or content.strip()[:3]
        elif item.tag == "61":
            state.entries.append(_entry(state, item))
        elif item.tag == "86" and previous == "61":
            _details(state.entries[-1], content)
        elif item.tag in ("62F", "62M"):
            _reconcile(state, item, content)
        previous = item.tag
    if not re.search(r"(^|\n):20:", text):
        raise InputError(f"{path}: no MT940 statement found (no :20: line)")
    return state.entries, state.notes


def _fields(lines: list[str]) -> list[_Field]:
    """Tagged fields with their continuation lines; block markers and blank lines end a field."""
    found: list[_Field] = []
    current: _Field | None = None
    for number, line in enumerate(lines, start=1):
        match = _TAG.match(line)
        if match:
            current = _Field(match[1], number, [match[2]])
            found.append(current)
        elif not line.strip() or line.startswith(("-", "{")):
            current = None
        elif current is not None:
            current.lines.append(line)
    return found


def _joined(item: _Field) -> str:
    text = item.lines[0]
    structured = _GVC.match(text) is not None
    for previous, line in zip(item.lines, item.lines[1:], strict=False):
        glue = "" if structured or len(previous) >= _FULL_LINE else " "
        text += glue + line
    return text


def _balance(path: str, item: _Field, content: str) -> tuple[Decimal, str]:
    match = _BALANCE.match(content.strip())
    if not match:
        raise InputError(
            f"{path}: line {item.line}: :{item.tag}: balance {content.strip()!r} is not "
            "C/D, YYMMDD, currency and amount (e.g. C130402EUR1147,95)"
        )
    amount = Decimal(decimal_text(path, f"line {item.line}", match["amount"]))
    return (-amount if match["mark"] == "D" else amount), match["ccy"]


def _reconcile(state: _State, item: _Field, content: str) -> None:
    closing, _ = _balance(state.path, item, content)
    if state.opening is not None and state.opening + state.moved != closing:
        total = state.opening + state.moved
        state.notes.append(
            f"statement {state.statement_id} (line {item.line}): opening balance "
            f"{state.opening} + entries {state.moved} = {total}, but :{item.tag}: says "
            f"{closing}: the statement does not reconcile (read anyway)"
        )
    state.opening = None


def _entry(state: _State, item: _Field) -> Entry:
    first = item.lines[0].strip()
    state.number += 1
    entry = Entry(statement_id=state.statement_id, entry_number=str(state.number),
                  account=state.account, currency=state.currency, line=item.line)  # fmt: skip
    match = _LINE_61.match(first)
    if not match:
        raise InputError(
            f"{state.path}: {entry.describe()}: :61: {first!r} is not value date (YYMMDD), "
            "optional entry date (MMDD), C/D/RC/RD, amount with a decimal comma and a "
            "transaction type (e.g. 0709040904CR300,NTRF...)"
        )
    entry.value_date = _date(state.path, entry, match["value"])
    entry.booking_date = _entry_date(entry.value_date, match["entry"])
    mark = match["mark"]
    entry.credit_debit = "CRDT" if mark in ("C", "RD") else "DBIT"
    if mark.startswith("R"):
        entry.reversal = mark
    amount = decimal_text(state.path, entry.describe(), match["amount"])
    entry.amount = signed(amount, entry.credit_debit)
    state.moved += Decimal(entry.amount)
    entry.transaction_code = match["type"]
    customer, _, bank = match["refs"].partition("//")
    entry.customer_reference = "" if customer.strip() in _NO_REFERENCE else customer.strip()
    entry.bank_reference = bank.strip()
    supplementary = " ".join(line.strip() for line in item.lines[1:]).strip()
    if _ACCOUNT.match(supplementary):
        entry.counterparty_account = supplementary
    else:
        entry.additional_info = supplementary
    return entry


def _date(path: str, entry: Entry, yymmdd: str) -> str:
    year = int(yymmdd[:2])
    text = f"{2000 + year if year < 80 else 1900 + year}-{yymmdd[2:4]}-{yymmdd[4:]}"
    if not ("01" <= yymmdd[2:4] <= "12" and "01" <= yymmdd[4:] <= "31"):
        raise InputError(f"{path}: {entry.describe()}: date {yymmdd} is not YYMMDD")
    return text


def _entry_date(value_date: str, mmdd: str | None) -> str:
    """The 4-digit entry date takes the value date's year, across a new year either way."""
    if not mmdd:
        return value_date
    year, value_month = int(value_date[:4]), int(value_date[5:7])
    month = int(mmdd[:2])
    if month == 12 and value_month == 1:
        year -= 1
    elif month == 1 and value_month == 12:
        year += 1
    return f"{year}-{mmdd[:2]}-{mmdd[2:]}"


# --------------------------------------------------------------------------------------- :86:


def _details(entry: Entry, text: str) -> None:
    if _GVC.match(text):
        _structured(entry, text)
    elif _SLASH_TAG.match(text):
        _slash_tags(entry, text)
    elif "TYT.:" in text:
        _key_values(entry, text)
    else:
        entry.remittance_text = text.strip()


def _structured(entry: Entry, text: str) -> None:
    """German layout: GVC code, then ?nn subfields (?20-?29 and ?60-?63 the purpose)."""
    code, rest = text[:3], text[3:]
    parts = re.split(r"\?(\d\d)", rest)
    subfields: dict[int, list[str]] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=False):
        subfields.setdefault(int(key), []).append(value)
    purpose_parts = [v for k in (*range(20, 30), *range(60, 64)) for v in subfields.get(k, [])]
    sepa = any(_SEPA_KEY.search(part) for part in purpose_parts)
    purpose = ("" if sepa else " ").join(purpose_parts)
    entry.transaction_code = f"{entry.transaction_code} {code}"
    entry.counterparty_name = "".join(subfields.get(32, []) + subfields.get(33, [])).strip()
    entry.counterparty_account = "".join(subfields.get(31, [])).strip() or (
        entry.counterparty_account
    )
    posting = " ".join(subfields.get(0, [])).strip()
    if not sepa:
        entry.remittance_text = purpose.strip()
        entry.additional_info = " ".join(t for t in (entry.additional_info, posting) if t)
        return
    keyed = _split_keys(purpose)
    entry.end_to_end_id = keyed.get("EREF+", "")
    entry.remittance_text = keyed.get("SVWZ+", "") or keyed.get("MTLG:", "") or keyed.get("", "")
    extra = [posting] + [f"{k}{v}" for k, v in keyed.items() if k not in ("EREF+", "SVWZ+")]
    entry.additional_info = " ".join(t for t in (entry.additional_info, *extra) if t.strip())


def _split_keys(purpose: str) -> dict[str, str]:
    parts = _SEPA_KEY.split(purpose)
    keyed = {"": parts[0].strip()} if parts[0].strip() else {}
    for key, value in zip(parts[1::2], parts[2::2], strict=False):
        keyed[key] = (keyed.get(key, "") + " " + value.strip()).strip()
    return keyed


def _slash_tags(entry: Entry, text: str) -> None:
    """``/EREF/x/ORDP//NAME/payer/REMI/text``: NAME belongs to the party tag before it."""
    parts = _SLASH_TAG.split(text)
    party = ""
    names: dict[str, str] = {}
    values: dict[str, str] = {}
    for tag, value in zip(parts[1::2], parts[2::2], strict=False):
        value = value.strip().strip("/").strip() if tag != "REMI" else value.strip()
        if tag in ("ORDP", "BENM", "ULTC", "ULTD", "CNTP"):
            party = tag
        elif tag == "NAME":
            names[party] = value
        else:
            values.setdefault(tag, value)
    entry.end_to_end_id = "" if values.get("EREF", "") in _NO_REFERENCE else values["EREF"]
    entry.remittance_text = values.get("REMI", "")
    entry.creditor_reference = values.get("CDTRREF", "")
    payer = names.get("ORDP") or names.get("CNTP") or names.get("", "")  # ING: /NAME/ alone
    payee = names.get("BENM") or names.get("CNTP") or names.get("", "")
    entry.counterparty_name = payer if entry.credit_debit == "CRDT" else payee
    if values.get("IBAN") and not entry.counterparty_account:
        entry.counterparty_account = values["IBAN"]
    entry.additional_info = " ".join(
        t for t in (entry.additional_info, *(f"/{k}/{v}" for k, v in values.items()
                                              if k not in ("EREF", "REMI"))) if t
    )  # fmt: skip


def _key_values(entry: Entry, text: str) -> None:
    """mBank: ``911 TRANSAKCJA COLLECT; ID IPH: X; Z RACH.: acct; OD: name; TYT.: title``."""
    pairs = dict(
        (key.strip(), value.strip())
        for key, value in re.findall(r"(?:^|;)\s*([^:;]+?):\s*([^;]*)", text)
    )
    entry.remittance_text = pairs.get("TYT.", "")
    entry.counterparty_name = pairs.get("OD", "")
    entry.counterparty_account = pairs.get("Z RACH.", "")
    entry.additional_info = " ".join(t for t in (entry.additional_info, text.strip()) if t)
