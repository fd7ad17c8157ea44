"""Workflow 1: a bank statement -> record_payment (bank_transfer), CSV and XLSX exports."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

import pytest
from click.testing import CliRunner
from wf_helpers import (
    SAMPLES,
    Workflow,
    by_row,
    full_cycle,
    outcomes,
    rows_by_invoice,
    sheet_rows,
)

import batchpay.api
from batchpay.api import run_and_report
from batchpay.cli import main
from batchpay.records import Outcome
from batchpay.run import RunOptions
from batchpay.target import sandbox_target

JOB = SAMPLES / "bank-deposits" / "job.yaml"
CSV = SAMPLES / "bank-deposits" / "deposits.csv"
XLSX_JOB = SAMPLES / "bank-deposits" / "job-xlsx.yaml"
XLSX = SAMPLES / "bank-deposits" / "deposits.xlsx"

# File line -> what executing the sample on the seeded sandbox does.
EXPECTED = {
    3: Outcome.POSTED,  # INV-1001 paid in full
    4: Outcome.POSTED,  # INV-1002 part payment
    5: Outcome.SKIPPED,  # DEP-0003 already recorded on INV-1003
    6: Outcome.POSTED,  # INV-1004 (EUR)
    7: Outcome.POSTED,  # INV-1005: 300.00 on a 250.00 invoice -> 50.00 excess
    8: Outcome.FAILED,  # INV-1006 is voided
    9: Outcome.POSTED,  # INV-1007 (GBP)
    10: Outcome.POSTED,  # INV-1009 (JPY, no minor unit)
    11: Outcome.SKIPPED,  # outgoing card payment
    12: Outcome.SKIPPED,  # interest: no invoice number
    13: Outcome.POSTED,  # INV-1016 (KWD, three decimals)
    14: Outcome.FAILED,  # INV-9999 does not exist
    15: Outcome.SKIPPED,  # the same transfer listed twice
    16: Outcome.POSTED,  # INV-1017
}


def test_bank_deposits_csv_end_to_end(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, JOB, CSV)
    cycle = full_cycle(wf)
    assert outcomes(cycle.execute.result) == EXPECTED

    dry = by_row(cycle.dry.result)
    assert dry[12].reason == "no invoice number in the description"
    assert dry[11].reason == "outgoing payment, not a deposit"
    assert "overpayment: 50.00 EUR" in dry[7].reason
    assert "already recorded with reference DEP-0003" in dry[5].reason
    assert "duplicate of line 3" in dry[15].reason
    for predicted in (dry[8], dry[14]):  # never sent: no HTTP status, no Chargebee code
        assert (predicted.http_status, predicted.api_error_code) == (None, None)
        assert predicted.reason.startswith("predicted by batchpay, not sent: ")
    assert "voided" in dry[8].reason and "not found" in dry[14].reason

    # The invoice number came out of the free text by regex; amounts are exact minor units.
    sent = {entry["invoice_id"]: entry for entry in cycle.ledger}
    assert set(sent) == {"INV-1001", "INV-1002", "INV-1004", "INV-1005", "INV-1007",
                         "INV-1009", "INV-1016", "INV-1017"}
    assert sent["INV-1009"]["params"]["transaction[amount]"] == "150000"  # JPY
    assert sent["INV-1016"]["params"]["transaction[amount]"] == "12345"  # KWD
    assert sent["INV-1005"]["params"]["transaction[payment_method]"] == "bank_transfer"
    assert sent["INV-1005"]["params"]["transaction[reference_number]"] == "NW-8812005"

    # The overpayment landed as the customer's excess payment, and the report shows the invoice
    # paid by more than it asked for.
    globex = wf.store.customer("cust_globex")
    assert globex is not None and globex["excess_payments"] == 5000
    posted = rows_by_invoice(cycle.execute, "Posted")
    assert posted["INV-1005"]["Amount"] == 300
    assert posted["INV-1005"]["Invoice status after"] == "paid"
    assert posted["INV-1002"]["Invoice status after"] == "payment_due"
    skipped = {r["Row"]: r["Reason"] for r in sheet_rows(cycle.execute.path, "Skipped")}
    assert skipped[12] == "no invoice number in the description"
    fix = sheet_rows(cycle.execute.path, "Fix and re-upload")
    assert [r["Reference ID"] for r in fix] == ["NW-8812006", "NW-8812012"]


def test_overpayment_is_written_in_the_workbook(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, JOB, CSV)
    report = wf.run("dry-run")
    row = next(r for r in sheet_rows(report.path, "Would post") if r["Row"] == 7)
    assert any("overpayment" in str(value) for value in row.values())


def test_bank_deposits_xlsx_variant(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, XLSX_JOB, XLSX)
    cycle = full_cycle(wf)
    # Title row 1, header row 2: the sheet rows carry the same numbers as the CSV's lines.
    assert outcomes(cycle.execute.result) == EXPECTED
    origin = by_row(cycle.execute.result)[7].origin
    assert str(origin) == 'sheet "Statement" row 7'


def test_the_same_statement_in_both_formats_posts_once(tmp_path: Path) -> None:
    wf = Workflow(tmp_path, JOB, CSV)
    wf.run("execute")
    ledger = wf.ledger()
    again = wf.run("execute", job=XLSX_JOB, data=XLSX).result
    assert wf.ledger() == ledger
    assert Outcome.POSTED not in outcomes(again).values()


def test_bank_deposits_through_the_cli(tmp_path: Path) -> None:
    state = ["--sandbox-state", str(tmp_path / "sb.sqlite"), "--journal",
             str(tmp_path / "j.sqlite"), "--reports-dir", str(tmp_path / "reports")]
    runner = CliRunner()
    validate = runner.invoke(main, ["validate", str(JOB), str(CSV), "--journal",
                                    str(tmp_path / "j.sqlite"),
                                    "--reports-dir", str(tmp_path / "reports")])
    assert validate.exit_code == 0, validate.output
    dry = runner.invoke(main, ["run", str(JOB), str(CSV), *state])
    # two rows would fail: a dry run says so and exits 0; only an execute's failures give 1
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.stdout and "Report:" in dry.stdout
    assert dry.stdout.endswith("2 rows need your attention before you execute (listed above).\n")
    execute = runner.invoke(main, ["run", str(JOB), str(CSV), "--execute", "--yes", *state])
    assert execute.exit_code == 1, execute.output
    rerun = runner.invoke(main, ["run", str(JOB), str(CSV), "--execute", "--yes", *state])
    assert any(line.split()[:2] == ["posted", "0"] for line in rerun.output.splitlines())
    reports = sorted(p.name for p in (tmp_path / "reports").glob("*.xlsx"))
    for mode in ("validate", "dry-run", "execute"):
        assert any(name.endswith(f"-{mode}.xlsx") for name in reports), reports


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _FrozenDatetime:
        return cls(2026, 11, 30, 9, 15, 0, tzinfo=tz)


def test_two_runs_in_one_second_keep_both_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batchpay.api, "datetime", _FrozenDatetime)
    wf = Workflow(tmp_path, JOB, CSV)
    options = RunOptions(mode="execute", target=sandbox_target(wf.store),
                         journal_path=tmp_path / "j.sqlite")
    first = run_and_report(JOB, CSV, options, reports_dir=tmp_path / "r")
    options.target = sandbox_target(wf.store)
    second = run_and_report(JOB, CSV, options, reports_dir=tmp_path / "r")
    assert first.path != second.path
