"""Fix and re-upload round trip (issue 14 item 4): the ORIGINAL job reads batchpay's own fix
workbook, recognised by the marker the report carries, never by a sheet's name alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from wf_helpers import SAMPLES, Workflow, sheet_rows

from batchpay.cli import main
from batchpay.fixsheet import FIX_SHEET, is_fix_workbook
from batchpay.records import Outcome

JOB = SAMPLES / "bank-deposits" / "job.yaml"
CSV = SAMPLES / "bank-deposits" / "deposits.csv"
XLSX_JOB = SAMPLES / "bank-deposits" / "job-xlsx.yaml"
XLSX = SAMPLES / "bank-deposits" / "deposits.xlsx"


def fix_unknown_invoice(report: Path, fixed: Path) -> None:
    """What the accountant does: on the fix sheet, INV-9999 (unknown) becomes INV-1018."""
    book = openpyxl.load_workbook(report)
    sheet = book[FIX_SHEET]
    header = [cell.value for cell in sheet[1]]
    column = header.index("Description") + 1
    edited = 0
    for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        if "INV-9999" in str(cell.value):
            cell.value = str(cell.value).replace("INV-9999", "INV-1018")
            edited += 1
    assert edited == 1
    book.save(fixed)


@pytest.mark.parametrize(("job", "data"), [(JOB, CSV), (XLSX_JOB, XLSX)], ids=["csv", "xlsx"])
def test_the_fixed_row_posts_and_nothing_else_is_sent_again(
    tmp_path: Path, job: Path, data: Path
) -> None:
    wf = Workflow(tmp_path, job, data)
    first = wf.run("execute")
    assert first.path is not None and is_fix_workbook(first.path)
    fixed = tmp_path / "fixed.xlsx"
    fix_unknown_invoice(first.path, fixed)
    before = wf.ledger()

    again = wf.run("execute", data=fixed).result

    assert [(o.origin.sheet, o.outcome, o.invoice_id) for o in again.outcomes] == [
        (FIX_SHEET, Outcome.FAILED, "INV-1006"),  # still voided: not fixed, fails again
        (FIX_SHEET, Outcome.POSTED, "INV-1018"),
    ]
    new = wf.ledger()[len(before):]
    assert wf.ledger()[: len(before)] == before
    assert len(new) == 1 and new[0]["idempotency_key"] == again.outcomes[1].idempotency_key
    dry_again = wf.run("dry-run", data=fixed).result
    assert Outcome.WOULD_POST not in {o.outcome for o in dry_again.outcomes}


def test_the_cli_reads_the_fix_workbook_with_the_original_csv_job(tmp_path: Path) -> None:
    state = ["--sandbox-state", str(tmp_path / "sb.sqlite"), "--journal",
             str(tmp_path / "j.sqlite"), "--reports-dir", str(tmp_path / "reports")]
    runner = CliRunner()
    first = runner.invoke(main, ["run", str(JOB), str(CSV), "--execute", "--yes", *state])
    assert first.exit_code == 1, first.output
    report = next((tmp_path / "reports").glob("*-execute.xlsx"))
    fixed = tmp_path / "fixed.xlsx"
    fix_unknown_invoice(report, fixed)
    again = runner.invoke(main, ["run", str(JOB), str(fixed), "--execute", "--yes", *state])
    assert again.exit_code == 1, again.output  # INV-1006 is still voided
    assert 'Execute of "fixed.xlsx" (job "bank-deposits"): 2 rows' in again.output
    posted = next(line for line in again.output.splitlines() if line.startswith("posted"))
    assert posted.split() == ["posted", "0", "0.00", "1", "50.00"]  # EUR, USD


def test_a_bank_workbook_with_a_sheet_of_that_name_is_read_as_the_job_says(
    tmp_path: Path,
) -> None:
    """No marker, no fix workbook: the job's own sheet is read, not the stray one."""
    book = openpyxl.load_workbook(XLSX)
    stray = book.create_sheet(FIX_SHEET)
    stray.append(["Date", "Reference ID", "Description", "Paid In", "Paid Out", "Currency"])
    stray.append(["2026-11-30", "X-1", "INV-1018", "99.00", None, "USD"])
    bank = tmp_path / "bank.xlsx"
    book.save(bank)
    assert not is_fix_workbook(bank) and not is_fix_workbook(CSV)
    result = Workflow(tmp_path, XLSX_JOB, bank).run("dry-run").result
    assert {o.origin.sheet for o in result.outcomes} == {"Statement"}
    assert len(result.outcomes) == len(sheet_rows(bank, "Statement")) - 1  # after the title


def test_the_marker_survives_a_save_in_libreoffice(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    report = Workflow(tmp_path, JOB, CSV).run("execute").path
    assert report is not None
    saved = tmp_path / "saved"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(saved),
                    str(report)], check=True, capture_output=True, timeout=180)
    resaved = saved / report.name
    assert is_fix_workbook(resaved)
    again = Workflow(tmp_path / "again", JOB, resaved).run("dry-run").result
    assert [(o.origin.sheet, o.invoice_id) for o in again.outcomes] == [
        (FIX_SHEET, "INV-1006"), (FIX_SHEET, "INV-9999")]


def test_a_fix_workbook_read_back_can_be_fixed_and_read_again(tmp_path: Path) -> None:
    # The fix sheet of a fix workbook repeated batchpay's three columns (read back as input
    # columns, then added again), so the third round was refused for a repeated header.
    state = ["--sandbox-state", str(tmp_path / "sb.sqlite"), "--journal",
             str(tmp_path / "j.sqlite")]
    runner = CliRunner()
    data = CSV
    for round_no in range(1, 4):
        report = tmp_path / f"round{round_no}.xlsx"
        done = runner.invoke(main, ["run", str(JOB), str(data), "--report", str(report),
                                    *state])
        assert done.exit_code == 0, done.output
        header = [cell.value for cell in openpyxl.load_workbook(report)[FIX_SHEET][1]]
        assert len(header) == len(set(header)), header
        assert header[-3:] == ["batchpay: source row", "batchpay: outcome", "batchpay: problem"]
        data = report
