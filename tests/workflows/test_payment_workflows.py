"""Workflows 2-6 end to end on the sandbox (API v2): cheque log, charge list, allocation sheet,
collection list, pending invoices."""

from __future__ import annotations

from pathlib import Path

from wf_helpers import (
    SAMPLES,
    Workflow,
    by_row,
    full_cycle,
    outcomes,
    rows_by_invoice,
    sheet_rows,
)

from batchpay.records import Outcome

POSTED, SKIPPED, FAILED = Outcome.POSTED, Outcome.SKIPPED, Outcome.FAILED


def test_cheque_log(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, SAMPLES / "cheque-log" / "job.yaml",
                  SAMPLES / "cheque-log" / "cheques.xlsx")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {
        3: POSTED, 4: POSTED, 5: POSTED,
        6: SKIPPED,  # bounced
        7: SKIPPED,  # INV-2105 already paid (its date was typed as text, and still parsed)
        8: SKIPPED,  # the same cheque entered twice
    }
    dry = by_row(cycle.dry.result)
    assert dry[6].reason == "cheque bounced; nothing to record"
    assert "duplicate of sheet \"November\" row 3" in dry[8].reason
    sent = {e["invoice_id"]: e["params"] for e in cycle.ledger}
    # the cheque number (leading zeros kept) is the reference; the deposit date the payment date
    assert sent["INV-2101"]["transaction[reference_number]"] == "000123"
    assert sent["INV-2101"]["transaction[payment_method]"] == "check"
    assert sent["INV-2101"]["transaction[date]"] == "1793595600"  # 2026-11-02 00:00 New York
    assert sent["INV-2102"]["transaction[amount]"] == "20000"
    assert sent["INV-2101"]["comment"] == "Cheque 000123 from ACME Inc"
    posted = rows_by_invoice(cycle.execute, "Posted")
    assert posted["INV-2101"]["Invoice status after"] == "paid"
    assert posted["INV-2102"]["Invoice status after"] == "payment_due"
    assert all(str(r["Chargebee transaction id"]).startswith("txn_") for r in posted.values())


def test_charge_list(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, SAMPLES / "charge-list" / "job.yaml",
                  SAMPLES / "charge-list" / "charges.csv")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {
        2: POSTED, 3: POSTED, 4: POSTED, 5: POSTED,
        6: FAILED,  # USD charge for a GBP customer: refused before sending
        7: FAILED,  # unknown customer
        8: SKIPPED,  # zero amount
    }
    executed = by_row(cycle.execute.result)
    assert "the row is in USD but customer cust_initech is billed in GBP" in executed[6].reason
    assert "customer cust_wayne not found" in executed[7].reason
    for refused in (executed[6], executed[7]):  # refused by batchpay, never sent
        assert (refused.http_status, refused.api_error_code, refused.attempts) == (None, None, 0)
    # the invoice Chargebee created is in the report, one per charged line
    # a Product Catalog 2.0 site: each charge is one ad-hoc line, charges[...][0]
    assert all("charges[amount][0]" in e["params"] and "amount" not in e["params"]
               for e in cycle.ledger)
    created = {e["params"]["charges[description][0]"]: e["invoice_id"] for e in cycle.ledger}
    posted = {r["Row"]: r for r in sheet_rows(cycle.execute.path, "Posted")}
    assert posted[2]["Invoice id"] == created["Onboarding workshop (2 days)"]
    assert str(posted[2]["Invoice id"]).startswith("SBX-INV-")
    assert len({r["Invoice id"] for r in posted.values()}) == 4
    invoice = wf.store.invoice(str(posted[4]["Invoice id"]))
    assert invoice is not None
    assert (invoice["total"], invoice["currency_code"], invoice["po_number"]) == (
        25000, "JPY", "PO-JP-118")
    params = {e["invoice_id"]: e["params"] for e in cycle.ledger}
    assert params[posted[3]["Invoice id"]] == {
        "customer_id": "cust_globex", "charges[amount][0]": "48050",
        "charges[description][0]": "Extra storage; 500 GB, November",  # no PO number: not sent
    }
    assert params[posted[5]["Invoice id"]]["charges[amount][0]"] == "12500"  # KWD 12.500


def test_allocation_sheet(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, SAMPLES / "allocation" / "job.yaml",
                  SAMPLES / "allocation" / "allocation.csv")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {2: POSTED, 3: POSTED, 4: POSTED, 5: SKIPPED}
    # two rows for INV-1014 became one call; the row without a transaction applied all excess
    assert [e["invoice_id"] for e in cycle.ledger] == ["INV-1014", "INV-1015"]
    grouped, apply_all = cycle.ledger
    assert grouped["params"] == {
        "comment": "Wire HOOLI-WIRE-1 split across Oct invoices",
        "transactions[id][0]": "txn_hooli_1", "transactions[amount][0]": "30000",
        "transactions[id][1]": "txn_hooli_2", "transactions[amount][1]": "10000",
    }
    assert apply_all["params"] == {"comment": "apply whatever Hooli has left"}
    executed = by_row(cycle.execute.result)
    assert executed[2].idempotency_key == executed[3].idempotency_key
    assert executed[2].attempts == executed[3].attempts == 1
    inv_1014, inv_1015 = wf.store.invoice("INV-1014"), wf.store.invoice("INV-1015")
    hooli = wf.store.customer("cust_hooli")
    assert inv_1014 is not None and inv_1014["status"] == "paid"
    assert inv_1015 is not None and inv_1015["amount_due"] == 15000
    assert hooli is not None and hooli["excess_payments"] == 0
    posted = sheet_rows(cycle.execute.path, "Posted")
    assert sorted(r["Row"] for r in posted) == [2, 3, 4]
    assert {r["Invoice status after"] for r in posted if r["Invoice id"] == "INV-1014"} == {"paid"}


def test_collection_list(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, SAMPLES / "collection-list" / "job.yaml",
                  SAMPLES / "collection-list" / "collections.csv")
    # A decline cannot be foreseen by a dry run: row 5 is predicted to post and fails.
    cycle = full_cycle(wf, unpredictable={5: FAILED})
    assert by_row(cycle.dry.result)[5].outcome is Outcome.WOULD_POST
    assert outcomes(cycle.execute.result) == {
        2: POSTED, 3: POSTED, 4: POSTED,
        5: FAILED,  # cust_hooli's card declines
        6: FAILED,  # no payment source on file: refused before sending
        7: SKIPPED,  # already paid
    }
    declined = by_row(cycle.execute.result)[5]
    assert (declined.http_status, declined.api_error_code) == (400, "payment_processing_failed")
    assert declined.attempts == 1, "a decline is never retried"
    assert "declined" in declined.reason
    # the re-run does not try the declined card again either: nothing new in the ledger, and
    # nothing about INV-2301 was ever applied
    assert "INV-2301" not in {e["invoice_id"] for e in wf.ledger()}
    assert by_row(cycle.rerun.result)[5].outcome is FAILED
    errors = rows_by_invoice(cycle.execute, "Errors")
    assert errors["INV-2301"]["API error code"] == "payment_processing_failed"
    assert errors["INV-2301"]["Attempts"] == 1
    assert errors["INV-2305"]["API error code"] is None  # predicted, never sent
    assert errors["INV-2305"]["Message"].startswith("predicted by batchpay, not sent: ")
    sent = {e["invoice_id"]: e["params"] for e in cycle.ledger}
    assert sent["INV-2302"] == {"comment": "monthly card run", "payment_initiator": "merchant"}
    assert sent["INV-2303"]["amount"] == "10000"  # JPY 10,000
    assert sent["INV-2304"] == {"amount": "7500", "payment_source_id": "pm_globex_card",
                                "payment_initiator": "customer",
                                "comment": "customer asked by phone"}


def test_pending_invoices(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, SAMPLES / "pending-invoices" / "job.yaml",
                  SAMPLES / "pending-invoices" / "pending.csv")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {
        2: POSTED, 3: POSTED,
        4: SKIPPED,  # marked not to close
        5: FAILED,  # no line items
        6: SKIPPED,  # already closed
    }
    assert [(e["operation"], e["invoice_id"]) for e in cycle.ledger] == [
        ("close", "INV-1010"), ("close", "INV-1011")]
    assert cycle.ledger[0]["params"] == {"comment": "Setup complete",
                                         "invoice_note": "Thank you for your business."}
    assert cycle.ledger[1]["params"] == {"comment": "Consulting delivered"}
    posted = rows_by_invoice(cycle.execute, "Posted")
    assert posted["INV-1010"]["Invoice status after"] == "payment_due"
    assert posted["INV-1011"]["Invoice status after"] == "paid"  # auto-collected on close
    assert by_row(cycle.dry.result)[4].reason == "marked not to close yet"
