"""Standard bank statement formats read as a table of text cells, one row per payment.

    read_statement ─┬─ camt.read    ISO 20022 camt.053 (and camt.052 reports, camt.054 notices)
                    ├─ mt940.read   SWIFT MT940 / MT942
                    ├─ bai2.read    BAI2 (US cash management)
                    └─ ofx.read     OFX 1.x (SGML) and 2.x (XML)

Every reader yields ``Entry`` records with the same fixed fields (``COLUMNS``), so a job maps
them like CSV columns with no separator or date settings: dates are ISO ``YYYY-MM-DD``, amounts
are signed decimal text with a ``.`` (``-664.05``; negative = money out), never a float.
Reversals (CAMT ``RvslInd``, MT940 ``RC``/``RD``) are kept apart: they undo an earlier booking
and must never become incoming payments; the run notes name each one. So are CAMT entries not
booked yet (``Sts`` PDNG, INFO or FUTR, found in camt.052 intraday reports).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field, fields

from batchpay.errors import InputError

FORMATS = ("camt053", "mt940", "bai2", "ofx")

# The row each reader yields, in column order. Documented in docs/formats.md and the reference.
FIELD_DOCS: dict[str, str] = {
    "statement_id": "the statement (or report, notification, BAI2 group) the entry is in",
    "entry_number": "position of the entry in its statement, 1-based; '3.2' is the second "
    "payment of a batched entry 3",
    "account": "the statement's own account (IBAN or account number)",
    "booking_date": "date the bank booked the entry, YYYY-MM-DD",
    "value_date": "value date, YYYY-MM-DD (empty when the format has none)",
    "amount": "signed decimal text, '.' as decimal point: positive = money in, negative = out",
    "currency": "ISO 4217 code of the amount",
    "credit_debit": "CRDT (money in) or DBIT (money out)",
    "bank_reference": "the bank's own reference for the payment (CAMT AcctSvcrRef, MT940 "
    "reference after //, BAI2 bank reference, OFX FITID); the default business key. A "
    "reference that repeats on the account in the file is kept by its first payment; each "
    "later, different payment gets '/2', '/3'... so that each has a key of its own (CAMT: "
    "'/1', '/2'... from the first, as in a batched entry); credits and debits are numbered "
    "apart, a debit sharing a credit's reference reads '/debit'",
    "customer_reference": "the account owner's reference (MT940 before //, BAI2 customer "
    "reference, OFX CHECKNUM)",
    "end_to_end_id": "the payer's end-to-end id (CAMT EndToEndId, SEPA EREF+, /EREF/, EREF:)",
    "creditor_reference": "structured creditor reference, e.g. RF38000000000000000000552 or a "
    "Swiss QR/ISR reference (CAMT Strd/CdtrRefInf/Ref)",
    "remittance_text": "unstructured remittance text (CAMT Ustrd joined by spaces, SEPA SVWZ+, "
    "/REMI/, REMI:, OFX MEMO)",
    "counterparty_name": "the payer of a credit, the payee of a debit",
    "counterparty_account": "the counterparty's IBAN or account number",
    "transaction_code": "bank transaction code (CAMT domain/family/sub-family or proprietary, "
    "MT940 type + GVC, BAI2 type code, OFX TRNTYPE)",
    "additional_info": "any other text the bank gives for the entry",
}
COLUMNS: tuple[str, ...] = tuple(FIELD_DOCS)


@dataclass
class Entry:
    """One payment as read from a statement; every value is text."""

    statement_id: str = ""
    entry_number: str = ""
    account: str = ""
    booking_date: str = ""
    value_date: str = ""
    amount: str = ""
    currency: str = ""
    credit_debit: str = ""
    bank_reference: str = ""
    customer_reference: str = ""
    end_to_end_id: str = ""
    creditor_reference: str = ""
    remittance_text: str = ""
    counterparty_name: str = ""
    counterparty_account: str = ""
    transaction_code: str = ""
    additional_info: str = ""
    line: int = field(default=0, compare=False)  # 1-based file line the entry starts on
    reversal: str = field(default="", compare=False)  # how the file marks it, e.g. RvslInd
    pending: str = field(default="", compare=False)  # not booked yet, e.g. CAMT Sts PDNG

    def cells(self) -> list[str]:
        return [" ".join(value.split()) for value in astuple(self)[: len(COLUMNS)]]

    def describe(self) -> str:
        return f"line {self.line} (statement {self.statement_id}, entry {self.entry_number})"


assert tuple(f.name for f in fields(Entry))[: len(COLUMNS)] == COLUMNS


@dataclass
class Statement:
    """What a reader found: the payments, the reversals set apart, and notes for the run."""

    entries: list[Entry]
    reversals: list[Entry]
    notes: list[str]


def read_statement(path: str, data: bytes, fmt: str, encoding: str | None) -> Statement:
    """Read ``data`` (the bytes of ``path``) as statement format ``fmt``."""
    from batchpay.statements import bai2, camt, mt940, ofx

    readers = {"camt053": camt.read, "mt940": mt940.read, "bai2": bai2.read, "ofx": ofx.read}
    entries, notes = readers[fmt](path, data, encoding)
    payments = [e for e in entries if not e.reversal and not e.pending]
    reversals = [e for e in entries if e.reversal]
    notes += [_reversal_note(e) for e in reversals]
    notes += [_pending_note(e) for e in entries if e.pending and not e.reversal]
    notes += _tell_apart(payments, from_one=fmt == "camt053")
    return Statement(payments, reversals, notes)


def _reversal_note(entry: Entry) -> str:
    ref = f", reference {entry.bank_reference}" if entry.bank_reference else ""
    return (
        f"{entry.describe()}: a reversal ({entry.reversal}) of {entry.amount} "
        f"{entry.currency}{ref} undoes an earlier booking; not read as a payment"
    )


def _pending_note(entry: Entry) -> str:
    return (
        f"{entry.describe()}: {entry.amount} {entry.currency} is not booked yet "
        f"({entry.pending}); not read as a payment until a statement books it"
    )


def _tell_apart(entries: Iterable[Entry], from_one: bool = False) -> list[str]:
    """Payments sharing a ``bank_reference`` on one account (an MT940 reference per batch, a
    BAI2 one per lockbox, an OFX FITID made of date and amount): the first keeps it, each
    later, different payment gets ``/2``, ``/3``... in file order, so every payment has a key
    of its own and a re-run or the same payment in another file keeps it. ``from_one`` (CAMT):
    the first gets ``/1`` too, as the transactions of a batched entry without references of
    their own do, so a batch reads alike whether its transactions repeat the entry's reference
    or not, and whether a notice reports them as one entry or as several.

    Credits and debits are numbered apart, so a fee under a payment's reference (which only
    one file of a notice/statement pair may carry) never shifts the payment's number; a debit
    whose reference a credit of the account also has reads as ``B1/debit`` (``/debit/2``...),
    so the two never share a key.

    A booking that two statements of the file report (overlapping periods, or one statement
    twice) keeps the reference of the first report: the plan skips it as a duplicate."""
    groups: dict[tuple[str, str, str], list[Entry]] = {}
    for entry in entries:
        if entry.bank_reference:
            way = "DBIT" if entry.credit_debit == "DBIT" else "CRDT"
            groups.setdefault((entry.account, entry.bank_reference, way), []).append(entry)
    taken = {(account, reference) for account, reference, _ in groups}
    notes: list[str] = []
    for (account, reference, way), group in groups.items():
        if way == "DBIT" and (account, reference, "CRDT") in groups:
            reference = _debit_reference(account, reference, taken)
            for entry in group:
                entry.bank_reference = reference
        if len(group) > 1:
            notes += _renumber(account, reference, group, taken, from_one)
    return notes


def _debit_reference(account: str, reference: str, taken: set[tuple[str, str]]) -> str:
    debit = f"{reference}/debit"
    taken.add((account, debit))
    return debit


def _renumber(
    account: str, reference: str, group: list[Entry], taken: set[tuple[str, str]],
    from_one: bool,
) -> list[str]:
    alike: dict[tuple[str, ...], list[Entry]] = {}  # payments kept, by what they hold
    kept: list[Entry] = []
    copies: list[str] = []
    for entry in group:
        content = _content(entry)
        original = next((e for e in alike.get(content, []) if _same_booking(entry, e)), None)
        if original is not None:
            entry.bank_reference = original.bank_reference
            copies.append(_copy_note(entry, original))
            continue
        if kept or from_one:
            number = len(kept) + 1
            while (account, f"{reference}/{number}") in taken:
                number += 1
            entry.bank_reference = f"{reference}/{number}"
            taken.add((account, entry.bank_reference))
        alike.setdefault(content, []).append(entry)
        kept.append(entry)
    if len(kept) == 1:
        if from_one:  # one payment reported twice: it keeps the reference it has
            for entry in group:
                entry.bank_reference = reference
        return copies
    lines = ", ".join(str(e.line) for e in kept)
    references = ", ".join(e.bank_reference for e in kept)
    return [
        f"bank_reference {reference} repeats on account {account}, lines {lines}: different "
        f"payments, read as {references} so that each posts",
        *copies,
    ]


_WHERE = {"statement_id", "entry_number", "bank_reference"}


def _content(entry: Entry) -> tuple[str, ...]:
    """What an entry says about the payment, not where the file puts it."""
    return tuple(v for name, v in zip(COLUMNS, entry.cells(), strict=True) if name not in _WHERE)


def _same_booking(entry: Entry, earlier: Entry) -> bool:
    """Two alike entries of one statement are two bookings (a customer who paid twice); alike
    entries of two statements (periods that overlap), or at one place of a statement given
    twice, are one booking reported twice."""
    return entry.statement_id != earlier.statement_id or (
        entry.entry_number == earlier.entry_number
    )


def _copy_note(entry: Entry, original: Entry) -> str:
    return (
        f"{entry.describe()} repeats {original.describe()}: the same booking reported twice "
        "in the file, not a second payment; skipped as its duplicate"
    )


# ----------------------------------------------------------------------------------- detection

_XML_STATEMENT = re.compile(rb"<(?:\w+:)?BkToCstmr(?:Stmt|AcctRpt|DbtCdtNtfctn)\b|camt\.05[234]")
_OFX = re.compile(rb"^\s*(?:OFXHEADER\s*:|<\?OFX\b|<OFX>)|<OFX>", re.IGNORECASE)
_MT940 = re.compile(rb"(?:^|[\r\n])\s*:(?:20|25|28C?|60[FM]|61):")
_BAI2 = re.compile(rb"^01,[^,\r\n]*,[^,\r\n]*,\d{6},")


def detect(head: bytes) -> str | None:
    """The statement format of a file from its first few kilobytes, by content only."""
    text = head.lstrip(b"\xef\xbb\xbf\x01\r\n\t ")
    if text.startswith(b"<") and _XML_STATEMENT.search(head):
        return "camt053"
    if _OFX.search(head):
        return "ofx"
    if _BAI2.match(text):
        return "bai2"
    if text.startswith((b"{1:", b":20:", b":940:", b":942:")) or (
        _MT940.search(head) and re.search(rb"(?:^|[\r\n]):61:", head)
    ):
        return "mt940"
    return None


# ------------------------------------------------------------------------------------- helpers

_DECIMAL = re.compile(r"^\d+(?:[.,]\d*)?$")


def decimal_text(path: str, where: str, raw: str, what: str = "amount") -> str:
    """``"300,"``, ``"0000169,90"`` or ``"474.4"`` as plain decimal text (``300``, ``169.90``)."""
    text = raw.strip()
    if not _DECIMAL.match(text):
        raise InputError(f"{path}: {where}: {what} {raw.strip()!r} is not a decimal amount")
    whole, _, fraction = text.replace(",", ".").partition(".")
    whole = whole.lstrip("0") or "0"
    return f"{whole}.{fraction}" if fraction else whole


def signed(amount: str, credit_debit: str) -> str:
    return f"-{amount}" if credit_debit == "DBIT" and amount.strip("0.") else amount


def decode_text(data: bytes, encoding: str | None, fallback: str = "cp1252") -> str:
    """Text of a statement: the job's encoding if set, else UTF-8, else ``fallback``."""
    if encoding:
        return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(fallback, errors="replace")
