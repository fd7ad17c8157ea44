"""A bank reference that repeats on one account never makes two payments one (MT940 ``:61:``
references per batch, a BAI2 bank reference per lockbox batch, a CAMT entry batching several
``TxDtls`` under one ``AcctSvcrRef``, an OFX ``FITID`` built from the date and the amount).

Real statement files built here, the real CLI on the built-in sandbox. Keys of statements whose
references are unique are pinned: journals written before must keep matching them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

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


# ------------------------------------------------------------- repeated references: all post

REPEATS = {
    "mt940": ("x.sta", mt940(("10,", "INV-1", "B1", "first"), ("20,", "INV-2", "B1", "second"),
                             ("30,", "INV-3", "B1", "third"))),
    "bai2": ("x.bai", bai2(("1000", "LB7", "INV-6"), ("2050", "LB7", "INV-7"))),
    "ofx": ("x.ofx", ofx(("10.00", "20240105-10", "INV-6"), ("10.00", "20240105-10", "INV-7"))),
    "camt, two entries": ("x.xml", camt(ntry("10.00", "X1", tx("10.00", "INV-1", "E1"))
                                       + ntry("20.00", "X1", tx("20.00", "INV-2", "E2")))),
    "camt, a batch whose TxDtls repeat the entry's reference": (
        "x.xml", camt(ntry("30.00", "X1", tx("10.00", "INV-1", "E1", ref="X1")
                           + tx("20.00", "INV-2", "E2", ref="X1")))),
}  # fmt: skip
POSTED = {
    "mt940": [("INV-1", 1000), ("INV-2", 2000), ("INV-3", 3000)],
    "bai2": [("INV-6", 1000), ("INV-7", 2050)],
    "ofx": [("INV-6", 1000), ("INV-7", 1000)],
    "camt, two entries": [("INV-1", 1000), ("INV-2", 2000)],
    "camt, a batch whose TxDtls repeat the entry's reference": [("INV-1", 1000), ("INV-2", 2000)],
}


@pytest.mark.parametrize("case", list(REPEATS))
def test_payments_sharing_a_bank_reference_all_post_once(tmp_path: Path, case: str) -> None:
    """Before: the second payment was "duplicate of line 5 in this file" and never posted."""
    name, text = REPEATS[case]
    site = Site(tmp_path)
    count = len(POSTED[case])
    assert outcomes(site.run(name, text)) == {"would post": count}
    assert outcomes(site.run(name, text, "--execute")) == {"posted": count}
    assert site.ledger() == POSTED[case]
    assert outcomes(site.run(name, text, "--execute")) == {"skipped": count}
    assert site.ledger() == POSTED[case]


def test_the_run_notes_name_the_lines_and_the_references_given(tmp_path: Path) -> None:
    summary = Site(tmp_path).run(*REPEATS["mt940"])
    notes = summary["info"]["notes"]  # type: ignore[index]
    assert (f"bank_reference B1 repeats on account {ACCOUNT}, lines 5, 7, 9: different "
            "payments, read as B1, B1/2, B1/3") in notes[0]


def skipped_reasons(report: Path) -> dict[int, str]:
    sheet = load_workbook(report)["Skipped"]
    return {int(row[0]): str(row[8]) for row in sheet.iter_rows(min_row=2, values_only=True)
            if row[0] is not None}  # fmt: skip


# -------------------------------------------------------- identical entries, repeated statements


def test_two_identical_bookings_in_one_statement_both_post(tmp_path: Path) -> None:
    """Same reference, account, date, amount, invoice and remittance, but two entries of the
    statement: the bank booked money twice (the customer paid twice), so the books must show
    two payments. Both post; the run notes name both lines."""
    text = mt940(("10,", "INV-1", "B1", "INV-1 March"), ("10,", "INV-1", "B1", "INV-1 March"))
    site = Site(tmp_path)
    summary = site.run("x.sta", text, "--execute")
    assert outcomes(summary) == {"posted": 2}
    assert site.ledger() == [("INV-1", 1000), ("INV-1", 1000)]
    assert (f"bank_reference B1 repeats on account {ACCOUNT}, lines 5, 7: different payments, "
            "read as B1, B1/2 so that each posts") in summary["info"]["notes"]  # type: ignore[index]
    assert outcomes(site.run("x.sta", text, "--execute")) == {"skipped": 2}
    assert site.ledger() == [("INV-1", 1000), ("INV-1", 1000)]


def test_a_statement_repeated_in_the_file_is_skipped_as_a_duplicate_and_said_so(
    tmp_path: Path,
) -> None:
    """The same statement twice in one file (same :20:, :28C: and entries): every entry of the
    copy is the same booking read twice. It posts once, and the report says why the copy was
    skipped (the reason names the line it repeats)."""
    once = mt940(("10,", "INV-1", "B1", "first"), ("20,", "INV-2", "B1", "second"))
    site = Site(tmp_path)
    summary = site.run("x.sta", once + once, "--execute")
    assert outcomes(summary) == {"posted": 2, "skipped": 2}
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]
    assert skipped_reasons(tmp_path / "run1.xlsx") == {
        14: "duplicate of line 5 in this file (same business key)",
        16: "duplicate of line 7 in this file (same business key)",
    }
    notes = summary["info"]["notes"]  # type: ignore[index]
    assert ("line 14 (statement STMT1 1/1, entry 1) repeats line 5 (statement STMT1 1/1, "
            "entry 1): the same booking reported twice in the file, not a second payment; "
            "skipped as its duplicate") in notes
    assert any(n.startswith("line 16 (statement STMT1 1/1, entry 2) repeats line 7 ")
               for n in notes)  # fmt: skip


def test_a_booking_in_two_overlapping_statements_of_one_file_posts_once(tmp_path: Path) -> None:
    """An OFX download with two statements of one account whose periods overlap: the booking
    both report (same FITID, date, amount, memo) is one payment, skipped as a duplicate with the
    reason in the report; within one statement, alike entries stay two bookings."""
    def statement(end: str, *transactions: tuple[str, str, str]) -> str:
        body = ofx(*transactions)
        return body[body.index("<STMTRS>"): body.index("</STMTRS>") + 9].replace(
            "<BANKTRANLIST>", f"<BANKTRANLIST><DTSTART>20240101<DTEND>{end}"
        )  # fmt: skip

    one = statement("20240105", ("10.00", "F1", "INV-6"), ("20.00", "F2", "INV-7"))
    two = statement("20240106", ("20.00", "F2", "INV-7"), ("5.00", "F3", "INV-8"))
    text = ofx().replace(ofx()[ofx().index("<STMTRS>"): ofx().index("</STMTRS>") + 9], one + two)
    site = Site(tmp_path)
    summary = site.run("x.ofx", text, "--execute")
    assert outcomes(summary) == {"posted": 3, "skipped": 1}
    assert site.ledger() == [("INV-6", 1000), ("INV-7", 2000), ("INV-8", 500)]
    assert skipped_reasons(tmp_path / "run1.xlsx") == {
        10: "duplicate of line 7 in this file (same business key)"
    }
    assert ("line 10 (statement A-9 20240106, entry 1) repeats line 7 (statement A-9 20240105, "
            "entry 2): the same booking reported twice in the file, not a second payment; "
            "skipped as its duplicate") in summary["info"]["notes"]  # type: ignore[index]


# ------------------------------------------------------------ the same payment in two files


def test_a_batched_payment_in_a_camt054_then_the_camt053_posts_once(tmp_path: Path) -> None:
    """The notice during the day, the statement at night, one batched entry whose TxDtls all
    carry the entry's AcctSvcrRef: each payment of the batch posts once, the statement's other
    entry posts, and nothing posts twice."""
    batch = ntry("30.00", "X1", tx("10.00", "INV-1", "E1", ref="X1")
                 + tx("20.00", "INV-2", "E2", ref="X1"))  # fmt: skip
    other = ntry("5.00", "X2", tx("5.00", "INV-3", "E3"))
    site = Site(tmp_path)
    assert outcomes(site.run("notice.xml", camt(batch, notice=True), "--execute")) == {
        "posted": 2
    }
    assert outcomes(site.run("statement.xml", camt(batch + other), "--execute")) == {
        "posted": 1, "skipped": 2,
    }  # fmt: skip
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000), ("INV-3", 500)]


# ------------------------------------------------------------------- fix and re-upload sheet


def test_a_fixed_row_of_a_repeated_reference_keeps_its_key_on_re_upload(tmp_path: Path) -> None:
    """The second payment under B1 names an unknown invoice. Its row in the Fix-and-re-upload
    sheet carries the bank_reference it was read as (B1/2), so the fixed row plans with the
    original row's key: it posts once, and neither the statement nor the fixed sheet run
    again posts anything more."""
    text = mt940(("10,", "INV-1", "B1", "first"), ("20,", "INV-99", "B1", "second"))
    site = Site(tmp_path)
    assert outcomes(site.run("x.sta", text)) == {"would post": 1, "would fail": 1}
    book = load_workbook(tmp_path / "run1.xlsx")
    sheet = book["Fix and re-upload"]
    header = [cell.value for cell in sheet[1]]
    fixed = [row for row in sheet.iter_rows(min_row=2) if row[0].value is not None]
    assert [row[header.index("bank_reference")].value for row in fixed] == ["B1/2"]
    fixed[0][header.index("customer_reference")].value = "INV-2"
    book.save(tmp_path / "fixed.xlsx")

    spec = load_spec(site.job)
    original = plan(prepare(spec, tmp_path / "x.sta", tmp_path), "acme-test", "v2")
    again = plan(prepare(spec, tmp_path / "fixed.xlsx", tmp_path), "acme-test", "v2")
    assert [call.business_key for call in again.calls] == [
        f'{{"account":"{ACCOUNT}","bank_reference":"B1/2"}}'
    ]
    assert again.calls[0].key == original.calls[1].key

    assert outcomes(site.run_file(tmp_path / "x.sta", "--execute")) == {
        "posted": 1, "failed": 1,
    }  # fmt: skip
    assert outcomes(site.run_file(tmp_path / "fixed.xlsx", "--execute")) == {"posted": 1}
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]
    assert outcomes(site.run_file(tmp_path / "fixed.xlsx", "--execute")) == {"skipped": 1}
    # The original row still names INV-99, not what B1/2 posted (INV-2): needs review, not sent
    # (test_posted_key_guard.py); the fixed sheet is the file to run again.
    assert outcomes(site.run_file(tmp_path / "x.sta", "--execute")) == {
        "skipped": 1, "needs review": 1,
    }  # fmt: skip
    assert site.ledger() == [("INV-1", 1000), ("INV-2", 2000)]
