"""Workflow 7: legacy API v1 sites; workflow 8: one sheet routed to several actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from wf_helpers import SAMPLES, Workflow, by_row, full_cycle, outcomes, sheet_rows

from batchpay.cli import main
from batchpay.errors import SpecError
from batchpay.records import Outcome
from batchpay.spec import load_spec

POSTED, SKIPPED, FAILED = Outcome.POSTED, Outcome.SKIPPED, Outcome.FAILED
V1 = SAMPLES / "legacy-v1"


def test_v1_record_payment_sends_flat_params(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, V1 / "record-payment.yaml", SAMPLES / "cheque-log" / "cheques.xlsx",
                  version="v1")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {
        3: POSTED, 4: POSTED, 5: POSTED, 6: SKIPPED, 7: SKIPPED, 8: SKIPPED}
    assert {e["version"] for e in cycle.ledger} == {"v1"}
    assert cycle.ledger[0]["params"] == {
        "amount": "50000", "payment_method": "check", "paid_at": "1793595600",
        "reference_number": "000123", "memo": "Cheque 000123 from ACME Inc",
    }
    assert cycle.execute.result.info.api_version == "v1"


def test_v1_collect_payment(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, V1 / "collect-payment.yaml",
                  SAMPLES / "collection-list" / "collections.csv", version="v1")
    cycle = full_cycle(wf, unpredictable={5: FAILED})  # the declining card
    assert outcomes(cycle.execute.result) == {
        2: POSTED, 3: POSTED, 4: POSTED, 5: FAILED, 6: FAILED, 7: SKIPPED}
    assert by_row(cycle.execute.result)[5].api_error_code == "payment_processing_failed"
    assert by_row(cycle.execute.result)[5].attempts == 1
    assert [(e["version"], e["operation"], e["params"]) for e in cycle.ledger] == [
        ("v1", "collect_payment", {}),  # amount_to_collect in full
        ("v1", "collect_payment", {"amount": "10000"}),
        ("v1", "collect_payment", {"amount": "7500"}),
    ]


def test_v1_close_is_collect(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, V1 / "close-invoice.yaml",
                  SAMPLES / "pending-invoices" / "pending.csv", version="v1")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {
        2: POSTED, 3: POSTED, 4: SKIPPED, 5: FAILED, 6: SKIPPED}
    assert [(e["version"], e["operation"], e["params"]) for e in cycle.ledger] == [
        ("v1", "close", {}), ("v1", "close", {})]  # POST /api/v1/invoices/{id}/collect


def test_v1_charge(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, V1 / "charge.yaml", SAMPLES / "charge-list" / "charges.csv",
                  version="v1")
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == {
        2: POSTED, 3: POSTED, 4: POSTED, 5: POSTED, 6: FAILED, 7: FAILED, 8: SKIPPED}
    assert {(e["version"], e["operation"]) for e in cycle.ledger} == {("v1", "charge")}
    posted = sheet_rows(cycle.execute.path, "Posted")
    assert all(str(r["Invoice id"]).startswith("SBX-INV-") for r in posted)


V1_APPLY = """\
name: allocation-v1
api_version: v1
fields:
  invoice_id: {column: Invoice}
action:
  type: apply_payments
  params: {invoice_id: invoice_id}
"""


def test_v1_apply_payments_is_rejected_when_the_spec_loads(tmp_path: Path) -> None:
    job = tmp_path / "allocation-v1.yaml"
    job.write_text(V1_APPLY, encoding="utf-8")
    with pytest.raises(SpecError, match="apply_payments does not exist in Chargebee API v1"):
        load_spec(job)
    data = SAMPLES / "allocation" / "allocation.csv"
    for command in (["validate"], ["run"]):
        result = CliRunner().invoke(main, [*command, str(job), str(data),
                                           "--reports-dir", str(tmp_path / "r")])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ")
        assert "apply_payments does not exist in Chargebee API v1" in result.output
        assert "use api_version: v2" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists(), "nothing is read, sent or written"


def test_one_sheet_several_actions(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, SAMPLES / "mixed-sheet" / "job.yaml",
                  SAMPLES / "mixed-sheet" / "activity.csv")
    cycle = full_cycle(wf)
    executed = by_row(cycle.execute.result)
    assert {row: (o.action, o.outcome) for row, o in executed.items()} == {
        2: ("record_payment", POSTED),
        3: ("charge", POSTED),
        4: ("close_invoice", POSTED),
        5: ("record_payment", POSTED),
        6: (None, SKIPPED),
        7: ("charge", POSTED),
    }
    assert executed[6].reason == "no route of the job matches this row"
    assert [(e["operation"], e["invoice_id"] or "") for e in cycle.ledger][:3] == [
        ("record_payment", "INV-2401"), ("charge", executed[3].invoice_id), ("close", "INV-2402")]
    by_op = {e["operation"]: e["params"] for e in cycle.ledger}
    assert by_op["close"] == {}
    assert by_op["record_payment"]["transaction[payment_method]"] == "bank_transfer"
    assert cycle.ledger[1]["params"] == {"customer_id": "cust_acme", "amount": "7500",
                                         "description": "Rush delivery fee",
                                         "po_number": "PO-7781"}
    posted = sheet_rows(cycle.execute.path, "Posted")
    assert sorted(r["Action"] for r in posted) == [
        "charge", "charge", "close_invoice", "record_payment", "record_payment"]


def test_v1_record_payment_status_rules(tmp_path: Path) -> None:
    """API v1 record_payment takes payment_due/not_paid invoices. v1 has no posted status: a
    posted invoice (INV-1008) is payment_due on v1 and is paid; a voided one is predicted to
    fail, and is not sent."""
    data = tmp_path / "cheques.csv"
    data.write_text("Invoice #,Cheque No.,Amount,Currency,Deposit Date,Drawer,Status\n"
                    "INV-1008,7001,100.00,GBP,02/11/2026,Initech,Cleared\n"
                    "INV-1006,7002,100.00,EUR,02/11/2026,Globex,Cleared\n", encoding="utf-8")
    spec = (V1 / "record-payment.yaml").read_text(encoding="utf-8")
    for line in ("  format: xlsx\n", "  sheet: November\n", "  skip_lines: 1\n",
                 "  skip_footer: 1\n"):
        spec = spec.replace(line, "")
    job = tmp_path / "job.yaml"
    job.write_text(spec.replace("input:\n", "input:\n  format: csv\n"), encoding="utf-8")
    wf = Workflow(tmp_path, job, data, version="v1")
    dry = wf.run("dry-run").result
    execute = wf.run("execute").result
    assert outcomes(dry) == {2: Outcome.WOULD_POST, 3: Outcome.WOULD_FAIL}
    assert outcomes(execute) == {2: Outcome.POSTED, 3: FAILED}
    assert "voided" in by_row(execute)[3].reason
    assert [e["invoice_id"] for e in wf.ledger()] == ["INV-1008"]
