"""ISO 20022 camt.053 statements (also camt.052 reports and camt.054 notifications), any version.

Elements are found by local name, so .001.02/.04/.08 and non-ISO namespaces read alike. One row
per payment: a batched entry (several ``NtryDtls/TxDtls``) gives one row per ``TxDtls``, with the
transaction's own amount (``TxDtls/Amt``, or ``AmtDtls/TxAmt/Amt`` in .001.02).
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from batchpay.errors import InputError
from batchpay.statements import Entry, decimal_text, signed

_CONTAINERS = {"Stmt": "statement", "Rpt": "report", "Ntfctn": "notification"}
_NOT_BOOKED = {"PDNG", "INFO", "FUTR"}  # pending, information only, future-dated


def read(path: str, data: bytes, encoding: str | None) -> tuple[list[Entry], list[str]]:
    root = _parse(path, data)
    message = next(iter(_children(root)), None) if _local(root) == "Document" else root
    containers = [c for c in _children(message) if _local(c) in _CONTAINERS]
    if not containers:
        raise InputError(
            f"{path}: no camt statement found: the document has no Stmt, Rpt or Ntfctn under "
            f"{_local(message) if message is not None else _local(root)}"
        )
    entries: list[Entry] = []
    notes: list[str] = []
    for container in containers:
        found = _statement(path, container)
        entries += found
        notes += _balance_notes(container, found)
    return entries, notes


def _parse(path: str, data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)  # fmt: skip
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        raise InputError(f"{path}: line {line}: not well-formed XML ({exc.msg})") from None


def _statement(path: str, container: etree._Element) -> list[Entry]:
    kind = _CONTAINERS[_local(container)]
    statement_id = _text(container, "Id") or f"({kind} at line {container.sourceline})"
    account = _text(container, "Acct/Id/IBAN") or _text(container, "Acct/Id/Othr/Id")
    rows: list[Entry] = []
    for number, ntry in enumerate(_all(container, "Ntry"), start=1):
        base = _entry_base(path, ntry, statement_id, str(number), account)
        details = _all(ntry, "NtryDtls/TxDtls")
        if len(details) <= 1:
            rows.append(_with_details(path, base, details[0] if details else None, None))
        else:
            rows += [
                _with_details(path, base, tx, index)
                for index, tx in enumerate(details, start=1)
            ]
    return rows


def _entry_base(path: str, ntry: etree._Element, sid: str, number: str, account: str) -> Entry:
    entry = Entry(statement_id=sid, entry_number=number, account=account, line=ntry.sourceline or 0)
    amount = _child(ntry, "Amt")
    if amount is None:
        raise InputError(f"{path}: {entry.describe()}: the entry has no Amt")
    entry.credit_debit = _direction(path, entry, _text(ntry, "CdtDbtInd"))
    entry.amount = decimal_text(path, entry.describe() + " Amt", amount.text or "")
    entry.currency = (amount.get("Ccy") or "").strip()
    entry.booking_date = _date(ntry, "BookgDt")
    entry.value_date = _date(ntry, "ValDt")
    entry.bank_reference = _text(ntry, "AcctSvcrRef") or _text(ntry, "NtryRef")
    entry.transaction_code = _bank_code(ntry)
    entry.additional_info = _text(ntry, "AddtlNtryInf")
    if _text(ntry, "RvslInd").lower() in ("true", "1"):
        entry.reversal = "RvslInd=true"
    status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts")
    if status in _NOT_BOOKED:
        entry.pending = f"Sts {status}"
    return entry


def _with_details(path: str, base: Entry, tx: etree._Element | None, index: int | None) -> Entry:
    entry = Entry(**{**base.__dict__})
    if tx is None:
        entry.amount = signed(entry.amount, entry.credit_debit)
        return entry
    if index is not None:
        entry.entry_number = f"{base.entry_number}.{index}"
        entry.line = tx.sourceline or base.line
        entry.bank_reference = f"{base.bank_reference}/{index}" if base.bank_reference else ""
    amount = _child(tx, "Amt")
    if amount is None:
        amount = _first(tx, "AmtDtls/TxAmt/Amt")
    if amount is not None:
        entry.amount = decimal_text(path, entry.describe() + " TxDtls amount", amount.text or "")
        entry.currency = (amount.get("Ccy") or entry.currency).strip()
    elif index is not None:
        raise InputError(f"{path}: {entry.describe()}: a batched entry's TxDtls has no amount")
    if _text(tx, "CdtDbtInd"):
        entry.credit_debit = _direction(path, entry, _text(tx, "CdtDbtInd"))
    entry.amount = signed(entry.amount, entry.credit_debit)
    entry.bank_reference = _text(tx, "Refs/AcctSvcrRef") or entry.bank_reference
    end_to_end = _text(tx, "Refs/EndToEndId")
    entry.end_to_end_id = "" if end_to_end == "NOTPROVIDED" else end_to_end
    entry.creditor_reference = _text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    entry.remittance_text = " ".join(t for t in _texts(tx, "RmtInf/Ustrd") if t)
    party = "Dbtr" if entry.credit_debit == "CRDT" else "Cdtr"
    entry.counterparty_name = (_text(tx, f"RltdPties/{party}/Nm")
                               or _text(tx, f"RltdPties/{party}/Pty/Nm"))  # fmt: skip
    entry.counterparty_account = (_text(tx, f"RltdPties/{party}Acct/Id/IBAN")
                                  or _text(tx, f"RltdPties/{party}Acct/Id/Othr/Id"))  # fmt: skip
    extra = _text(tx, "AddtlTxInf")
    if extra != entry.additional_info:
        entry.additional_info = " ".join(t for t in (entry.additional_info, extra) if t)
    return entry


def _direction(path: str, entry: Entry, indicator: str) -> str:
    if indicator not in ("CRDT", "DBIT"):
        raise InputError(
            f"{path}: {entry.describe()}: CdtDbtInd is {indicator!r}, expected CRDT or DBIT"
        )
    return indicator


def _date(ntry: etree._Element, name: str) -> str:
    return (_text(ntry, f"{name}/Dt") or _text(ntry, f"{name}/DtTm"))[:10]


def _bank_code(ntry: etree._Element) -> str:
    domain = "/".join(
        t for t in (_text(ntry, "BkTxCd/Domn/Cd"), _text(ntry, "BkTxCd/Domn/Fmly/Cd"),
                    _text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd")) if t
    )  # fmt: skip
    return domain or _text(ntry, "BkTxCd/Prtry/Cd")


def _balance_notes(container: etree._Element, entries: list[Entry]) -> list[str]:
    """A statement whose opening balance plus its entries is not its closing balance."""
    balances = {}
    for bal in _all(container, "Bal"):
        code = _text(bal, "Tp/CdOrPrtry/Cd")
        amount = _text(bal, "Amt")
        try:
            value = Decimal(amount)
        except ArithmeticError:
            continue
        balances[code] = -value if _text(bal, "CdtDbtInd") == "DBIT" else value
    opening = balances.get("OPBD", balances.get("PRCD"))
    closing = balances.get("CLBD")
    if opening is None or closing is None:
        return []
    moved = sum((Decimal(e.amount) for e in entries if not e.pending), Decimal(0))
    if opening + moved == closing:
        return []
    sid = entries[0].statement_id if entries else _text(container, "Id")
    return [
        f"statement {sid}: opening balance {opening} + entries {moved} = {opening + moved}, "
        f"but the closing balance is {closing}: the statement does not reconcile (read anyway)"
    ]


# ------------------------------------------------------------------ namespace-blind navigation


def _local(element: etree._Element | None) -> str:
    if element is None or not isinstance(element.tag, str):
        return ""
    return etree.QName(element).localname


def _children(element: etree._Element | None) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str)] if element is not None else []


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in _children(element) if _local(c) == name), None)


def _all(element: etree._Element, path: str) -> list[etree._Element]:
    found = [element]
    for name in path.split("/"):
        found = [c for parent in found for c in _children(parent) if _local(c) == name]
    return found


def _first(element: etree._Element, path: str) -> etree._Element | None:
    found = _all(element, path)
    return found[0] if found else None


def _texts(element: etree._Element, path: str) -> list[str]:
    return [" ".join((e.text or "").split()) for e in _all(element, path)]


def _text(element: etree._Element, path: str) -> str:
    texts = _texts(element, path)
    return texts[0] if texts else ""
