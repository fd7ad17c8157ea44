"""The statement readers on the real CAMT, MT940/942, BAI2 and OFX samples in ../shared/real-inputs.

Every expected value was read by eye from the file (see SOURCES.md there). The files are never
copied into this repository: these tests skip when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from batchpay.plan import plan
from batchpay.prepare import prepare
from batchpay.read import Table, detect_format, read_table
from batchpay.spec import InputSpec, parse_spec

REAL_INPUTS = Path(__file__).resolve().parents[2].parent / "shared" / "real-inputs"

ABNAMRO = "abnamro-nl__test-camt053"
UBS = "ubs-ch__valid_example_v8.xml"
POSTFINANCE = "postfinance-ch__valid_example_v4.xml"
POSTFINANCE_054 = "postfinance-ch-camt054__valid_example.xml"
DRESDNER = "dresdner-de__sepa_mt9401.txt"
RABOBANK = "rabobank-nl__rabobank_sepa.txt"
MBANK = "mbank-pl__mt942.sta"
GOLDMAN = "goldman-us__sample4-continuations-newline-delimited.txt"
NATWEST = "natwest-uk__nwb_example.bai2"
BANCO_DO_BRASIL = "bancodobrasil-br__ofxdata-bb-two-stmtrs.ofx"


def real(name: str) -> Path:
    path = REAL_INPUTS / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def table(name: str) -> Table:
    return read_table(real(name), InputSpec())  # type: ignore[call-arg]


def rows(t: Table) -> list[dict[str, str]]:
    return [dict(zip(t.columns, cells, strict=True)) for cells in t.frame.itertuples(index=False)]


def column(t: Table, name: str) -> list[str]:
    return [str(v) for v in t.frame[name].tolist()]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [(ABNAMRO, "camt053"), (UBS, "camt053"), (POSTFINANCE, "camt053"),
     (POSTFINANCE_054, "camt053"), (DRESDNER, "mt940"), (RABOBANK, "mt940"), (MBANK, "mt940"),
     (GOLDMAN, "bai2"), (NATWEST, "bai2"), (BANCO_DO_BRASIL, "ofx")],
)  # fmt: skip
def test_detected_by_content(name: str, fmt: str) -> None:
    assert detect_format(real(name)) == fmt


def test_abnamro_camt053_v02_batched_reversal_and_tx_amounts() -> None:
    t = table(ABNAMRO)
    assert [(r["entry_number"], r["amount"], r["credit_debit"]) for r in rows(t)] == [
        ("1", "-754.25", "DBIT"),
        ("3", "1405.31", "CRDT"),
    ]
    credit = rows(t)[1]
    assert credit["end_to_end_id"] == "115"
    assert credit["additional_info"] == "#RD PARTY MEDIA CUSNO 90782 4210773"
    assert credit["counterparty_name"] == "3rd party Media"
    assert t.frame.index.tolist() == [50, 228]
    # The returned direct debits (a batch of 2, RvslInd true): named, never rows.
    reversals = [n for n in t.notes if "reversal" in n]
    assert [n.split(":")[0] for n in reversals] == [
        "line 144 (statement 1234Test/1, entry 2.1)",
        "line 185 (statement 1234Test/1, entry 2.2)",
    ]
    assert "-564.05 EUR" in reversals[0] and "-100.00 EUR" in reversals[1]
    assert any("does not reconcile" in n and "15121.12" in n for n in t.notes)


def test_ubs_camt053_v08() -> None:
    got = rows(table(UBS))
    assert [(r["amount"], r["currency"], r["credit_debit"]) for r in got] == [
        ("474.4", "CHF", "CRDT"), ("88.85", "CHF", "CRDT"), ("-20.97", "EUR", "DBIT"),
    ]  # fmt: skip
    assert got[0]["remittance_text"] == "INVOICE R77561"
    assert got[1]["creditor_reference"] == "RF38000000000000000000552"
    assert got[2]["creditor_reference"] == "000000270148751802165444888"
    assert got[1]["counterparty_name"] == "Finanz AG"  # v08 Dbtr/Pty/Nm
    assert [r["end_to_end_id"] for r in got] == [
        "80000004540000100095", "435A9287E088BDB1D97FAABD181C70C8", "1208481",
    ]  # fmt: skip


def test_postfinance_camt054_repeats_camt053_with_the_same_keys() -> None:
    statement, notice = table(POSTFINANCE), table(POSTFINANCE_054)
    keys = {(r["account"], r["bank_reference"]) for r in rows(statement)}
    notice_rows = rows(notice)
    # The 24.00 collection is a batch of 15.00 + 9.00: one row per payment.
    assert [(r["entry_number"], r["amount"]) for r in notice_rows] == [
        ("1.1", "15.00"), ("1.2", "9.00"), ("2", "56.56"),
    ]  # fmt: skip
    assert {(r["account"], r["bank_reference"]) for r in notice_rows} <= keys
    assert len(keys) == len(rows(statement))  # unique within the statement
    assert sum(1 for n in notice.notes if "reversal (RvslInd=true)" in n) == 2


def test_postfinance_camt053_isr_references_keep_their_zeros() -> None:
    references = column(table(POSTFINANCE), "creditor_reference")
    assert "000000000002016030002820804" in references
    assert "CreditorReference" in references


def test_dresdner_mt940_counts_marks_and_wrapped_subfields() -> None:
    t = table(DRESDNER)
    got = rows(t)
    assert len(got) == 95  # 97 :61: lines, 2 of them RC reversals
    assert sum(r["credit_debit"] == "CRDT" for r in got) == 41
    assert sum(r["credit_debit"] == "DBIT" for r in got) == 54
    first = got[0]
    assert (first["amount"], first["booking_date"], first["bank_reference"]) == (
        "300", "2007-09-04", "0724710345313905",
    )  # fmt: skip
    assert first["customer_reference"] == "TFNr 40005 MSGID"
    assert first["end_to_end_id"] == "TFNR 40005 00005"
    reason = "Grund nicht spezifiziert Reject aus SEPA-Ueberweisungsauftrag"
    assert first["remittance_text"] == reason
    # "...EBB?2" / "2MTLG:..." wraps inside the ?22 marker.
    wrapped = next(r for r in got if r["bank_reference"] == "BD7CFA74485E7E69")
    assert wrapped["remittance_text"] == "SEPA-Ueberweisungsauftrag Datei mit 0000005 Zahlungen"
    assert "KREF+TFNr 01005 PayId CTSc-01 EBB" in wrapped["additional_info"]
    assert sum("reversal (RC)" in n for n in t.notes) == 2
    assert not any("does not reconcile" in n for n in t.notes)  # RC counted as money out


def test_rabobank_mt940_slash_tags_and_mid_word_wraps() -> None:
    got = rows(table(RABOBANK))
    assert len(got) == 12
    assert sum(r["credit_debit"] == "CRDT" for r in got) == 8
    assert got[1]["remittance_text"] == "NR.201303-111/11.3.2013 NR.201303-112/11.3.2013"
    assert got[1]["counterparty_name"] == "Bedrijf B.V."
    assert got[1]["counterparty_account"] == "0663616476"
    assert got[0]["counterparty_name"] == "Nespresso Nederland B.V."  # payee of a debit
    assert got[0]["end_to_end_id"] == "02-04-2013 22:56 1120000153447185"
    assert got[3]["remittance_text"].endswith("KINDEROPVANG")
    assert got[0]["amount"] == "-127.50"


def test_mbank_mt942_between_soh_and_etx() -> None:
    got = rows(table(MBANK))
    assert [(r["amount"], r["currency"], r["bank_reference"]) for r in got] == [
        ("0.01", "PLN", "MB170119012058"),
        ("0.01", "PLN", "MB170119012085"),
        ("0.01", "PLN", "MB170119012121"),
    ]
    assert got[0]["remittance_text"] == "PRZELEW SRODKOW"


def test_goldman_bai2_direction_from_the_type_code() -> None:
    got = rows(table(GOLDMAN))
    assert len(got) == 17
    codes = {r["transaction_code"]: r["credit_debit"] for r in got}
    assert codes["447"] == "DBIT"  # "ACH Credit Payment" is money out
    assert codes["261"] == "CRDT"  # "ACH Credit Reject" is money in
    assert sum(r["credit_debit"] == "CRDT" for r in got) == 9
    assert (got[0]["amount"], got[0]["bank_reference"], got[0]["end_to_end_id"]) == (
        "-600.00", "SPB2322984714570", "1111",
    )  # fmt: skip
    rtp = next(r for r in got if r["remittance_text"] == "Test Remittance")
    assert rtp["amount"] == "500.50"
    assert any("Entry Description: EXP; -, SEC: CCD" in r["additional_info"] for r in got)


def test_natwest_bai2_description_split_mid_word() -> None:
    got = rows(table(NATWEST))
    assert [r["amount"] for r in got] == ["-9.71", "-1.00", "-1.23", "-15.71", "0.89"]
    assert got[4]["remittance_text"].endswith("INTERNATIONAL-5373 CLIENT SECCY AC TFR")
    assert {r["currency"] for r in got} == {"GBP"}
    assert got[0]["account"] == "88888888 600004"
    assert table(NATWEST).notes == ()  # its 49 trailer (with the 88 summary) reconciles


def test_goldman_bai2_trailers_that_do_not_reconcile_are_noted() -> None:
    notes = table(GOLDMAN).notes
    assert len(notes) == 2
    assert notes[0].startswith("account 107049932 (line 22): the 49 trailer's control total is "
                               "-1260161341762")  # fmt: skip


def test_banco_do_brasil_ofx_two_statements_and_a_lying_charset() -> None:
    got = rows(table(BANCO_DO_BRASIL))
    assert len(got) == 36
    assert sum(r["amount"].startswith("-") for r in got) == 4
    assert got[0]["amount"] == "13318.36"
    assert got[0]["remittance_text"] == "TED-CRÉDITO EM CONTA"
    assert {r["account"] for r in got} == {"655000-2"}
    assert got[0]["transaction_code"] == "DEP"
    assert got[0]["booking_date"] == "2017-03-01"


def test_camt054_then_camt053_plans_each_payment_once_by_default() -> None:
    """The default business key of a statement row is the bank's reference: the four bookings
    the notification and the statement share get the same idempotency keys."""
    spec = parse_spec(yaml.safe_load(DEPOSITS_JOB))
    assert spec.action is not None and spec.action.business_key is None
    notice = plan(prepare(spec, real(POSTFINANCE_054)), "acme-test", "v2")
    statement = plan(prepare(spec, real(POSTFINANCE)), "acme-test", "v2")
    notice_keys = {call.key for call in notice.calls}
    statement_keys = {call.key for call in statement.calls}
    account = '{"account":"CH0309000000250090342","bank_reference":"'
    assert sorted(call.business_key for call in notice.calls) == [
        f'{account}TST_201-13113-5"}}', f'{account}TST_201-2091644-8"}}',
        f'{account}TST_201-2091644-9"}}',
    ]  # 15.00 + 9.00 (one batched entry) and 56.56
    assert notice_keys <= statement_keys
    assert len(statement_keys) == len(statement.calls)


DEPOSITS_JOB = """
name: deposits
fields:
  amount: {column: amount, type: money, currency_field: currency}
  currency: {column: currency}
  invoice_id: {column: end_to_end_id, required: false}
filters:
  - {field: amount, le: 0, reason: money out}
  - {field: invoice_id, empty: true, reason: no end-to-end id}
action:
  type: record_payment
  params: {invoice_id: invoice_id, amount: amount, payment_method: {const: bank_transfer}}
"""
