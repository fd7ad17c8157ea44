"""A bank reference that repeats on one account never makes two payments one (MT940 ``:61:``
references per batch, a BAI2 bank reference per lockbox batch, a CAMT entry batching several
``TxDtls`` under one ``AcctSvcrRef``, an OFX ``FITID`` built from the date and the amount).

Real statement files built here, the real CLI on the built-in sandbox. Keys of statements whose
references are unique are pinned: journals written before must keep matching them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from batchpay.cli import main
from batchpay.plan import plan
from batchpay.prepare import prepare
from batchpay.sandbox import SandboxStore
from batchpay.spec import load_spec

ACCOUNT = "BE68539007547034"
JOB = """name: statement
fields:
  amount: {column: amount, type: money, currency_field: currency}
  currency: {column: currency}
  date: {column: booking_date, type: date, formats: ["%Y-%m-%d"]}
  reference: {column: bank_reference}
  invoice_id:
    columns: [customer_reference, remittance_text, creditor_reference]
    regex: '\\b(INV-\\d+)\\b'
    required: false
filters:
  - {field: amount, le: 0, reason: money out}
  - {field: invoice_id, empty: true, reason: no invoice}
action:
  type: record_payment
  params: {invoice_id: invoice_id, amount: amount, payment_method: {const: bank_transfer},
           reference_number: reference, date: date}
"""
SEED = {
    "customers": [{"id": "c1", "currency": "EUR", "payment_sources": []},
                  {"id": "c2", "currency": "USD", "payment_sources": []}],
    "invoices": [{"id": f"INV-{n}", "customer": "c1", "status": "payment_due", "total": 100000}
                 for n in range(1, 6)]
    + [{"id": f"INV-{n}", "customer": "c2", "status": "payment_due", "total": 100000}
       for n in range(6, 9)],
}  # fmt: skip


# --------------------------------------------------------------------------- statement files


def mt940(*lines: tuple[str, str, str, str], statement: str = ":20:STMT1\n:28C:1/1") -> str:
    """A statement of ``(amount, invoice, bank reference, :86: text)`` credits of 2024-01-02."""
    body = "".join(f":61:2401020102C{amount}NTRF{invoice}//{ref}\n:86:{text}\n"
                   for amount, invoice, ref, text in lines)  # fmt: skip
    return f"{statement}\n:25:{ACCOUNT}\n:60F:C231231EUR0,\n{body}-\n"


def bai2(*records: tuple[str, str, str]) -> str:
    """A lockbox account of ``(cents, bank reference, invoice)`` deposits."""
    body = "".join(f"16,115,{cents},,{ref},,Lockbox deposit {invoice}/\n"
                   for cents, ref, invoice in records)  # fmt: skip
    return (
        "01,SENDER,RECEIVER,240301,0800,1,,,2/\n02,RECEIVER,BANK,1,240229,2400,USD,2/\n"
        f"03,777,USD,,,/\n{body}49,0,{len(records) + 2}/\n98,0,1,9/\n99,0,1,11/\n"
    )


def ofx(*transactions: tuple[str, str, str]) -> str:
    """A bank statement of ``(amount, FITID, memo)`` credits of 2024-01-05."""
    body = "".join(f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240105<TRNAMT>{amount}<FITID>{fitid}"
                   f"<MEMO>{memo}</STMTTRN>\n" for amount, fitid, memo in transactions)
    return ("OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS>"
            f"<CURDEF>USD\n<BANKACCTFROM><ACCTID>A-9</BANKACCTFROM><BANKTRANLIST>\n{body}"
            "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n")  # fmt: skip


def tx(amount: str, invoice: str, e2e: str, ref: str = "") -> str:
    refs = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    return (f"<TxDtls><Refs>{refs}<EndToEndId>{e2e}</EndToEndId></Refs>"
            f'<Amt Ccy="EUR">{amount}</Amt><RmtInf><Ustrd>{invoice}</Ustrd></RmtInf></TxDtls>')


def ntry(amount: str, ref: str, details: str) -> str:
    return (f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            "<Sts>BOOK</Sts><BookgDt><Dt>2024-03-01</Dt></BookgDt>"
            f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls>{details}</NtryDtls></Ntry>\n")


def camt(entries: str, notice: bool = False) -> str:
    root, box = ("BkToCstmrDbtCdtNtfctn", "Ntfctn") if notice else ("BkToCstmrStmt", "Stmt")
    kind = "054" if notice else "053"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.04">\n<{root}>\n'
        f"<GrpHdr><MsgId>M-{kind}</MsgId></GrpHdr>\n<{box}><Id>{kind}-1</Id>\n"
        f"<Acct><Id><IBAN>{ACCOUNT}</IBAN></Id></Acct>\n{entries}</{box}>\n</{root}>\n"
        "</Document>\n"
    )


# ----------------------------------------------------------------------------------- helpers


class Site:
    """One sandbox site, one journal, one job: runs of the real CLI against them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.job = tmp / "job.yaml"
        self.job.write_text(JOB)
        self.state = tmp / "sandbox.sqlite"
        store = SandboxStore(self.state)
        store.load_seed(SEED)
        store.close()
        self.runs = 0

    def run(self, name: str, text: str, *more: str) -> dict[str, object]:
        path = self.tmp / name
        path.write_text(text)
        return self.run_file(path, *more)

    def run_file(self, path: Path, *more: str) -> dict[str, object]:
        self.runs += 1
        args = ["run", str(self.job), str(path), "--json", "--yes",
                "--sandbox-state", str(self.state), "--journal", str(self.tmp / "j.sqlite"),
                "--report", str(self.tmp / f"run{self.runs}.xlsx"), *more]  # fmt: skip
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        return dict(json.loads(result.output))

    def ledger(self) -> list[tuple[str, int]]:
        store = SandboxStore(self.state)
        try:
            return sorted((str(e["invoice_id"]), int(e["amount"])) for e in store.ledger())
        finally:
            store.close()


def outcomes(summary: dict[str, object]) -> dict[str, int]:
    return dict(summary["outcomes"])  # type: ignore[call-overload]


def keys(tmp: Path, name: str, text: str) -> list[tuple[str, str]]:
    """(business key, idempotency key) of every call planned for the statement ``text``."""
    (tmp / "job.yaml").write_text(JOB)
    (tmp / name).write_text(text)
    planned = plan(prepare(load_spec(tmp / "job.yaml"), tmp / name, tmp), "acme-test", "v2")
    return [(call.business_key, call.key) for call in planned.calls]


# ------------------------------------------------------------------ unique references: pinned


def test_keys_of_statements_with_unique_references_are_unchanged(tmp_path: Path) -> None:
    """Pinned before the repeated-reference change: journals written before must still match
    (the business key and the idempotency key sent, byte for byte)."""
    statement = mt940(("10,", "INV-1", "B1", "x"), ("20,", "INV-2", "B2", "y"))
    assert keys(tmp_path, "a.sta", statement) == [
        ('{"account":"BE68539007547034","bank_reference":"B1"}',
         "bp1-cfe9f6bf6ec4cd924d3fef5dbcddb53d2aafc417"),
        ('{"account":"BE68539007547034","bank_reference":"B2"}',
         "bp1-3a8a12cd7da0d5eedce558390f440b48d601d4e0"),
    ]
    assert keys(tmp_path, "b.bai", bai2(("1000", "L1", "INV-6"), ("2050", "L2", "INV-7"))) == [
        ('{"account":"777","bank_reference":"L1"}', "bp1-b6189b63a318403ee4542cfd586e5e22022bd043"),
        ('{"account":"777","bank_reference":"L2"}', "bp1-d2376b89786641ebc10acb0385e1ff689fecbfa8"),
    ]
    assert keys(tmp_path, "c.ofx", ofx(("10.00", "F1", "INV-6"), ("20.00", "F2", "INV-7"))) == [
        ('{"account":"A-9","bank_reference":"F1"}', "bp1-2f65bebe2757a6de05e27d63184dc00cfa949fc6"),
        ('{"account":"A-9","bank_reference":"F2"}', "bp1-9a879699c6936f82d4f14f538aa62e201e3c335a"),
    ]
    batch = ntry("30.00", "X1", tx("10.00", "INV-1", "E1") + tx("20.00", "INV-2", "E2"))
    single = ntry("5.00", "X2", tx("5.00", "INV-3", "E3", ref="T3"))
    assert keys(tmp_path, "d.xml", camt(batch + single)) == [
        ('{"account":"BE68539007547034","bank_reference":"X1/1"}',
         "bp1-5184bbe29a60697f7b28f3d6313bbe44cd1e4584"),
        ('{"account":"BE68539007547034","bank_reference":"X1/2"}',
         "bp1-421ebe503a847ac63a6ec71d175043e5ae4bb41b"),
        ('{"account":"BE68539007547034","bank_reference":"T3"}',
         "bp1-caa6779ea7a1a1625653603be001bd8865f2e0d3"),
    ]
