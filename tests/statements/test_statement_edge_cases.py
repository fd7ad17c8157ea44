"""Small generated statements: versions, continuation records, debit/credit marks, several
statements and currencies in one file, and the errors that point at the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from batchpay.cli import main
from batchpay.errors import InputError
from batchpay.plan import plan
from batchpay.prepare import prepare
from batchpay.read import Table, detect_format, read_table
from batchpay.spec import InputSpec, load_spec


def read(tmp_path: Path, text: str | bytes, name: str = "statement", **spec: object) -> Table:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return read_table(path, InputSpec(**spec))  # type: ignore[arg-type]


def rows(t: Table) -> list[dict[str, str]]:
    return [dict(zip(t.columns, cells, strict=True)) for cells in t.frame.itertuples(index=False)]


# ------------------------------------------------------------------------------------- CAMT


def camt(version: str, entries: str, root: str = "BkToCstmrStmt", box: str = "Stmt",
         namespace: str | None = None, balances: str = "") -> str:  # fmt: skip
    ns = namespace or f"urn:iso:std:iso:20022:tech:xsd:{version}"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}">\n<{root}>\n'
        f"<GrpHdr><MsgId>M1</MsgId></GrpHdr>\n<{box}><Id>S1</Id>\n"
        "<Acct><Id><IBAN>CH0000000000000000001</IBAN></Id></Acct>\n"
        f"{balances}{entries}</{box}>\n</{root}>\n</Document>\n"
    )


def ntry(amount: str, ccy: str = "EUR", indicator: str = "CRDT", details: str = "",
         reversal: str = "false", ref: str = "R1") -> str:  # fmt: skip
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<RvslInd>{reversal}</RvslInd><BookgDt><Dt>2024-03-01</Dt></BookgDt>"
        f"<ValDt><DtTm>2024-03-02T10:00:00</DtTm></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>"
        f"<NtryDtls>{details}</NtryDtls></Ntry>\n"
    )


V02_TX = (
    "<TxDtls><Refs><EndToEndId>E{n}</EndToEndId></Refs><AmtDtls><TxAmt>"
    '<Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls><RltdPties><Dbtr><Nm>Payer {n}</Nm>'
    "</Dbtr></RltdPties><RmtInf><Ustrd>INV-{n}</Ustrd><Ustrd>part two</Ustrd></RmtInf>"
    "</TxDtls>"
)


def test_camt_v02_batch_amounts_under_amtdtls(tmp_path: Path) -> None:
    details = V02_TX.format(n=1, amount="10.50") + V02_TX.format(n=2, amount="4.5")
    t = read(tmp_path, camt("camt.053.001.02", ntry("15.00", details=details)))
    assert [(r["entry_number"], r["amount"], r["bank_reference"]) for r in rows(t)] == [
        ("1.1", "10.50", "R1/1"), ("1.2", "4.5", "R1/2"),
    ]  # fmt: skip
    assert rows(t)[0]["remittance_text"] == "INV-1 part two"
    assert rows(t)[1]["counterparty_name"] == "Payer 2"
    assert rows(t)[0]["value_date"] == "2024-03-02"


def test_camt_v04_tx_amount_and_debit(tmp_path: Path) -> None:
    tx = ('<TxDtls><Refs><AcctSvcrRef>TX9</AcctSvcrRef></Refs><Amt Ccy="EUR">7.00</Amt>'
          "<CdtDbtInd>DBIT</CdtDbtInd><RltdPties><Cdtr><Nm>Payee</Nm></Cdtr><CdtrAcct><Id>"
          "<IBAN>DE00123</IBAN></Id></CdtrAcct></RltdPties></TxDtls>")  # fmt: skip
    t = read(tmp_path, camt("camt.053.001.04", ntry("7.00", indicator="DBIT", details=tx)))
    (row,) = rows(t)
    assert (row["amount"], row["bank_reference"], row["counterparty_name"]) == (
        "-7.00", "TX9", "Payee",
    )  # fmt: skip
    assert row["counterparty_account"] == "DE00123"


def test_camt_v08_party_wrapped_and_structured_reference(tmp_path: Path) -> None:
    tx = ('<TxDtls><Amt Ccy="CHF">1</Amt><RltdPties><Dbtr><Pty><Nm>Finanz AG</Nm></Pty>'
          "</Dbtr></RltdPties><RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd>"
          "</CdOrPrtry></Tp><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>")
    t = read(tmp_path, camt("camt.053.001.08", ntry("1", ccy="CHF", details=tx)))
    (row,) = rows(t)
    assert (row["counterparty_name"], row["creditor_reference"]) == (
        "Finanz AG", "RF18539007547034",
    )  # fmt: skip


def test_camt052_report_and_camt054_notification_and_foreign_namespace(tmp_path: Path) -> None:
    report = camt("camt.052.001.02", ntry("1.00"), root="BkToCstmrAcctRpt", box="Rpt")
    notice = camt("x", ntry("2.00"), root="BkToCstmrDbtCdtNtfctn", box="Ntfctn",
                  namespace="urn:bank:proprietary:notices")  # fmt: skip
    assert rows(read(tmp_path, report, "a"))[0]["amount"] == "1.00"
    assert detect_format(tmp_path / "a") == "camt053"
    assert rows(read(tmp_path, notice, "b.txt"))[0]["amount"] == "2.00"
    assert detect_format(tmp_path / "b.txt") == "camt053"


def test_camt_two_statements_two_currencies_and_a_reversal(tmp_path: Path) -> None:
    one = camt("camt.053.001.04", ntry("1.00", ref="A") + ntry("5.00", reversal="true", ref="B"))
    two = one.replace("<Stmt><Id>S1</Id>", "<Stmt><Id>S2</Id>").replace(
        'Ccy="EUR">1.00', 'Ccy="USD">3.00'
    )
    both = one.replace("</Stmt>", "</Stmt>" + two[two.index("<Stmt>"): two.index("</Stmt>") + 7])
    t = read(tmp_path, both)
    assert [(r["statement_id"], r["amount"], r["currency"]) for r in rows(t)] == [
        ("S1", "1.00", "EUR"), ("S2", "3.00", "USD"),
    ]  # fmt: skip
    assert [n.split(":")[0] for n in t.notes if "reversal" in n] == [
        "line 8 (statement S1, entry 2)", "line 12 (statement S2, entry 2)",
    ]  # fmt: skip


def test_camt052_pending_entries_are_not_payments(tmp_path: Path) -> None:
    pending = ntry("7.00", ref="P").replace("<RvslInd>", "<Sts><Cd>PDNG</Cd></Sts><RvslInd>")
    report = camt("camt.052.001.08", ntry("1.00") + pending, root="BkToCstmrAcctRpt", box="Rpt")
    t = read(tmp_path, report)
    assert [r["amount"] for r in rows(t)] == ["1.00"]
    assert t.notes == (
        "line 8 (statement S1, entry 2): 7.00 EUR is not booked yet (Sts PDNG); not read as a "
        "payment until a statement books it",
    )


def test_camt_balances_that_do_not_reconcile_are_noted_not_refused(tmp_path: Path) -> None:
    balances = ('<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10.00</Amt>'
                "<CdtDbtInd>CRDT</CdtDbtInd></Bal><Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry>"
                '</Tp><Amt Ccy="EUR">99.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>')  # fmt: skip
    t = read(tmp_path, camt("camt.053.001.04", ntry("1.00"), balances=balances))
    assert len(t.frame) == 1
    assert t.notes == (
        "statement S1: opening balance 10.00 + entries 1.00 = 11.00, but the closing balance "
        "is 99.00: the statement does not reconcile (read anyway)",
    )


def test_camt_bad_amount_points_at_the_entry(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read(tmp_path, camt("camt.053.001.04", ntry("1.00") + ntry("12,5.0")))
    assert str(caught.value).endswith(
        "line 8 (statement S1, entry 2) Amt: amount '12,5.0' is not a decimal amount"
    )


# ------------------------------------------------------------------------------------ MT940

MT940 = """{1:F01BANKBEBBAXXX0000000000}{2:O940}{4:
:20:STMT1
:25:BE68539007547034
:28C:1/1
:60F:C231231EUR100,00
:61:2401020102RD5,NTRFNONREF//B1
:86:reversed direct debit
:61:2401020102C10,5NTRFINV-7//B2
second line of details
:86:/EREF/E2E-7/ORDP//NAME/Payer Ltd/REMI/INV-7
:61:2312311231D0,5NCHGNONREF//B3
:62F:C240102EUR115,00
-}
:20:STMT2
:25:US0001
:28C:2/1
:60F:D240101USD3,
:61:240102C1,NTRFNONREF//B4
:62F:D240102USD2,
-
"""


def test_mt940_marks_currencies_and_blocks(tmp_path: Path) -> None:
    t = read(tmp_path, MT940, "x.sta")
    got = rows(t)
    assert [(r["statement_id"], r["amount"], r["currency"], r["bank_reference"]) for r in got] == [
        ("STMT1 1/1", "10.5", "EUR", "B2"),
        ("STMT1 1/1", "-0.5", "EUR", "B3"),
        ("STMT2 2/1", "1", "USD", "B4"),
    ]
    assert got[0]["customer_reference"] == "INV-7"
    assert got[0]["counterparty_name"] == "Payer Ltd"
    assert got[0]["additional_info"] == "second line of details"
    assert got[2]["booking_date"] == "2024-01-02"
    # RD (reversal of a debit) is money in, and still never a payment.
    assert [n.split(":")[0] for n in t.notes] == ["line 6 (statement STMT1 1/1, entry 1)"]
    assert "a reversal (RD) of 5" in t.notes[0]


def test_mt940_entry_date_across_the_new_year(tmp_path: Path) -> None:
    text = MT940.replace(":61:2312311231D0,5", ":61:2401011231D0,5")
    got = rows(read(tmp_path, text, "x.sta"))
    assert (got[1]["value_date"], got[1]["booking_date"]) == ("2024-01-01", "2023-12-31")


def test_mt940_balances_that_do_not_reconcile(tmp_path: Path) -> None:
    t = read(tmp_path, MT940.replace(":62F:C240102EUR115,00", ":62F:C240102EUR1,00"), "x.sta")
    assert [n for n in t.notes if "reconcile" in n] == [
        "statement STMT1 1/1 (line 12): opening balance 100.00 + entries 15.0 = 115.00, but "
        ":62F: says 1.00: the statement does not reconcile (read anyway)"
    ]


def test_mt940_bad_61_points_at_the_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read(tmp_path, MT940.replace(":61:240102C1,", ":61:240102X1,"), "x.sta")
    assert "line 18 (statement STMT2 2/1, entry 1): :61: '240102X1,NTRFNONREF//B4'" in str(
        caught.value
    )


# ------------------------------------------------------------------------------------- BAI2

BAI2 = (
    "01,SENDER,RECEIVER,240301,0800,1,,,2/02,RECEIVER,BANK,1,240229,2400,USD,2/\n"
    "03,111,USD,010,100,,/\n"
    "16,175,12345,,BREF1,CREF1,Deposit from ACME\n"
    "88,INV-1 and the rest\n"
    "16,475,99,S,10,20,69,BREF2,CREF2,Check paid/\n"
    "49,12544,4/\n"
    "03,222,JPY,,,/\n"
    "16,195,5000,V,240301,1200,BREF3,,Incoming wire/\n"
    "88,REMI: INV-9\n"
    "88,DBNM: Payer KK\n"
    "49,5000,3/\n98,17444,2,9/\n99,17444,1,11/"
)


def test_bai2_records_on_one_line_continuations_funds_types_and_currencies(
    tmp_path: Path,
) -> None:
    t = read(tmp_path, BAI2, "x.bai")
    got = rows(t)
    assert [(r["account"], r["amount"], r["currency"], r["bank_reference"]) for r in got] == [
        ("111", "123.45", "USD", "BREF1"),
        ("111", "-0.99", "USD", "BREF2"),
        ("222", "5000", "JPY", "BREF3"),
    ]
    assert got[0]["remittance_text"] == "Deposit from ACME INV-1 and the rest"
    assert (got[2]["remittance_text"], got[2]["counterparty_name"]) == ("INV-9", "Payer KK")
    assert got[0]["booking_date"] == "2024-02-29"
    assert detect_format(tmp_path / "x.bai") == "bai2"
    assert t.notes == ()  # 100 + 123.45 + 0.99 (unsigned) = 125.44; 5000


def test_bai2_account_trailer_that_does_not_reconcile_is_noted(tmp_path: Path) -> None:
    t = read(tmp_path, BAI2.replace("49,12544,4/", "49,12444,4/"), "x.bai")
    assert t.notes == (
        "account 111 (line 6): the 49 trailer's control total is 12444, the account's amounts "
        "add up to 12544: the totals do not reconcile (read anyway)",
    )


def test_bai2_unknown_type_code_points_at_the_record(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read(tmp_path, BAI2.replace("16,475,", "16,920,"), "x.bai")
    assert "line 5 (statement BANK 240229, entry 2): type code '920' does not say" in str(
        caught.value
    )


# -------------------------------------------------------------------------------------- OFX

OFX_SGML = (
    "OFXHEADER:100\r\nDATA:OFXSGML\r\nENCODING:USASCII\r\nCHARSET:1252\r\n\r\n<OFX>\r\n"
    "<BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\r\n<BANKACCTFROM><ACCTID>A-1 \r\n"
    "</BANKACCTFROM><BANKTRANLIST>\r\n"
    "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240105120000[-3:BRT]<TRNAMT>1,234.5\r\n"
    "<FITID>F1<NAME>Caf\xe9 Ltd<MEMO>INV-3 </STMTTRN>\r\n"
    "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240106<TRNAMT>-2.00<FITID>F2</STMTTRN>\r\n"
    "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
)


def test_ofx_sgml_declared_ascii_but_windows_bytes(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"TRNAMT '1,234\.5' is not an amount"):
        read(tmp_path, OFX_SGML.encode("cp1252"), "x.qfx")
    t = read(tmp_path, OFX_SGML.replace("1,234.5", "1234.5").encode("cp1252"), "x.qfx")
    got = rows(t)
    assert [(r["amount"], r["credit_debit"], r["bank_reference"]) for r in got] == [
        ("1234.5", "CRDT", "F1"), ("-2.00", "DBIT", "F2"),
    ]  # fmt: skip
    assert (got[0]["counterparty_name"], got[0]["remittance_text"]) == ("Café Ltd", "INV-3")
    assert (got[0]["booking_date"], got[0]["account"], got[0]["currency"]) == (
        "2024-01-05", "A-1", "EUR",
    )  # fmt: skip


def test_ofx_xml_version_2(tmp_path: Path) -> None:
    text = ('<?xml version="1.0" encoding="UTF-8"?><?OFX OFXHEADER="200" VERSION="220"?>'
            "<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><CCSTMTRS><CURDEF>USD</CURDEF>"
            "<CCACCTFROM><ACCTID>C9</ACCTID></CCACCTFROM><BANKTRANLIST><STMTTRN>"
            "<TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20240107</DTPOSTED><TRNAMT>5</TRNAMT>"
            "<FITID>X</FITID></STMTTRN></BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS>"
            "</CREDITCARDMSGSRSV1></OFX>")  # fmt: skip
    assert [r["amount"] for r in rows(read(tmp_path, text, "x.ofx"))] == ["5"]
    assert detect_format(tmp_path / "x.ofx") == "ofx"


# ------------------------------------------------------------------------------ through the CLI

JOB = """name: statement
input: {format: %s}
fields:
  amount: {column: amount, type: money, currency_field: currency}
  currency: {column: currency}
  date: {column: booking_date, type: date, formats: ["%%Y-%%m-%%d"]}
  reference: {column: bank_reference}
  invoice_id: {column: customer_reference, required: false}
filters:
  - {field: amount, le: 0, reason: money out}
  - {field: invoice_id, empty: true, reason: no invoice}
action:
  type: record_payment
  params: {invoice_id: invoice_id, amount: amount, payment_method: {const: bank_transfer},
           reference_number: reference, date: date}
  business_key: [reference]
"""


def test_cli_validate_reads_a_statement_and_names_the_reversal(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(JOB % "mt940")
    (tmp_path / "x.sta").write_text(MT940)
    args = ["validate", str(tmp_path / "job.yaml"), str(tmp_path / "x.sta"),
            "--reports-dir", str(tmp_path / "reports"),
            "--journal", str(tmp_path / "j.sqlite")]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ": 3 rows" in result.output
    assert "line 6 (statement STMT1 1/1, entry 1): a reversal (RD)" in result.output


def test_cli_unreadable_statement_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(JOB % "camt053")
    (tmp_path / "x.xml").write_text("<Document><BkToCstmrStmt><Stmt>")
    args = ["validate", str(tmp_path / "job.yaml"), str(tmp_path / "x.xml"),
            "--reports-dir", str(tmp_path / "reports"),
            "--journal", str(tmp_path / "j.sqlite")]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {tmp_path / 'x.xml'}: line 1: not well-formed XML")
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- hostile XML


def test_camt_entity_expansion_bomb_is_refused(tmp_path: Path) -> None:
    levels = ['<!ENTITY e0 "lol">'] + [
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    ]
    body = camt("camt.053.001.02", ntry("1.00")).replace("<Id>S1</Id>", "<Id>&e9;</Id>")
    text = body.replace("<Document", f"<!DOCTYPE d [{''.join(levels)}]>\n<Document", 1)
    with pytest.raises(InputError, match="not well-formed XML"):
        read(tmp_path, text)


def test_camt_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = camt("camt.053.001.02", ntry("1.00")).replace("<Id>S1</Id>", "<Id>&x;</Id>")
    text = body.replace("<Document", f'<!DOCTYPE d [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n'
                        "<Document", 1)  # fmt: skip
    try:
        t = read(tmp_path, text)
    except InputError as exc:
        assert "TOPSECRET" not in str(exc)
    else:
        assert "TOPSECRET" not in " ".join(map(str, t.frame.to_numpy().ravel()))


def test_ofx_transactions_left_unclosed(tmp_path: Path) -> None:
    text = ("OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n"
            "<BANKACCTFROM><ACCTID>9</BANKACCTFROM><BANKTRANLIST>\n"
            "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240105<TRNAMT>1.50<FITID>A\n"
            "<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240106<TRNAMT>2.50<FITID>B\n"
            "</BANKTRANLIST><LEDGERBAL><BALAMT>4.00</LEDGERBAL></STMTRS></STMTTRNRS>"
            "</BANKMSGSRSV1></OFX>\n")  # fmt: skip
    got = rows(read(tmp_path, text, "x.ofx"))
    assert [(r["amount"], r["bank_reference"], r["entry_number"]) for r in got] == [
        ("1.50", "A", "1"), ("2.50", "B", "2"),
    ]  # fmt: skip


def test_mt940_ing_style_tags(tmp_path: Path) -> None:
    text = MT940.replace(":86:/EREF/E2E-7/ORDP//NAME/Payer Ltd/REMI/INV-7",
                         ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL20INGB0001234567/BIC/INGBNL2A"
                         "/NAME/Payer BV/REMI/INV-7/EREF/E2E-7")  # fmt: skip
    got = rows(read(tmp_path, text, "x.sta"))[0]
    assert (got["remittance_text"], got["end_to_end_id"]) == ("INV-7", "E2E-7")
    assert (got["counterparty_name"], got["counterparty_account"]) == (
        "Payer BV", "NL20INGB0001234567",
    )  # fmt: skip
    assert "/TRTP/SEPA OVERBOEKING" in got["additional_info"]


def test_a_fixed_statement_row_keeps_the_banks_reference_as_its_key(tmp_path: Path) -> None:
    """Batchpay's fix sheet of a statement run, re-uploaded, plans with the same default key
    (account + bank_reference) as the statement itself, so nothing posts twice."""
    (tmp_path / "job.yaml").write_text((JOB % "mt940").replace("  business_key: [reference]\n",
                                                                "\n"))  # fmt: skip
    (tmp_path / "x.sta").write_text(MT940)
    report = tmp_path / "dry.xlsx"
    args = ["run", str(tmp_path / "job.yaml"), str(tmp_path / "x.sta"), "--report", str(report),
            "--sandbox-state", str(tmp_path / "sandbox.sqlite")]  # fmt: skip
    CliRunner().invoke(main, args, catch_exceptions=False)
    book = load_workbook(report)
    sheet = book["Fix and re-upload"]
    header = [c.value for c in sheet[1]]
    refs = [row[header.index("bank_reference")].value for row in sheet.iter_rows(min_row=2)]
    assert refs == ["B2"]  # INV-7 is not in the sandbox: it would fail
    sheet.cell(2, header.index("customer_reference") + 1, "INV-8")  # the fix
    book.save(report)
    spec = load_spec(tmp_path / "job.yaml")
    planned = plan(prepare(spec, report, tmp_path), "acme-test", "v2")
    keys = {call.invoice_id: call.business_key for call in planned.calls}
    assert keys["INV-8"] == '{"account":"BE68539007547034","bank_reference":"B2"}'
    original = plan(prepare(spec, tmp_path / "x.sta", tmp_path), "acme-test", "v2")
    assert {c.business_key for c in original.calls} == {keys["INV-8"]}
