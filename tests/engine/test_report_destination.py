"""Issue 13 item 6: a report that cannot be written never follows a posted run without a trace.

Where the report cannot go (a reports folder under a regular file, a 300-character file name,
a folder given as the file) the run is refused before the first call. If the workbook still
fails after posting (here: the process may not write files over 56 KB, and three 30 KB cells
make the workbook larger), the results go to a rescue JSON, and one ``Error:`` line says where.
"""

from __future__ import annotations

import json
import os
import random
import resource
import string
import subprocess
from pathlib import Path

from bp_testkit import (
    REPO,
    SECRET_KEY,
    Deposit,
    batchpay_args,
    sandbox_server,
    synthetic_rows,
    write_csv,
    write_job,
)
from click.testing import CliRunner, Result

from batchpay.cli import main
from batchpay.sandbox import SandboxStore, synthetic_seed

PREFIX = "RPT-"
LIMIT = 56 * 1024  # the journal stays under it, the workbook does not


def _execute(tmp: Path, *report_args: str | Path) -> tuple[Result, list[dict[str, object]]]:
    job = write_job(tmp / "job.yaml")
    data = write_csv(tmp / "d.csv", synthetic_rows(3, PREFIX))
    state = tmp / "sandbox.sqlite"
    store = SandboxStore(state)
    store.load_seed(synthetic_seed(3, prefix=PREFIX))
    store.db.close()
    result = CliRunner().invoke(main, [
        "run", str(job), str(data), "--execute", "--yes", "--sandbox-state", str(state),
        "--journal", str(tmp / "journal.sqlite"), *map(str, report_args),
    ])  # fmt: skip
    store = SandboxStore(state)
    try:
        return result, store.ledger()
    finally:
        store.db.close()


def _refused(result: Result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert "(nothing was sent)" in errors[0]


def test_reports_dir_under_a_regular_file_is_refused_before_posting(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    result, ledger = _execute(tmp_path, "--reports-dir", tmp_path / "notes.txt" / "reports")
    _refused(result, f"cannot write the report to {tmp_path / 'notes.txt' / 'reports'}: ")
    assert ledger == []


def test_a_300_character_report_name_is_refused_before_posting(tmp_path: Path) -> None:
    report = tmp_path / ("r" * 300 + ".xlsx")
    result, ledger = _execute(tmp_path, "--report", report)
    _refused(result, "File name too long; choose another --report")
    assert ledger == []


def test_a_folder_given_as_the_report_is_refused_before_posting(tmp_path: Path) -> None:
    (tmp_path / "out.xlsx").mkdir()
    result, ledger = _execute(tmp_path, "--report", tmp_path / "out.xlsx")
    assert result.exit_code == 2 and "is a directory" in result.output, result.output
    assert ledger == []


def test_a_writable_destination_still_reports(tmp_path: Path) -> None:
    result, ledger = _execute(tmp_path, "--reports-dir", tmp_path / "deep" / "reports")
    assert result.exit_code == 0, result.output
    assert len(ledger) == 3
    assert len(list((tmp_path / "deep" / "reports").glob("*.xlsx"))) == 1


def _limit_file_size() -> None:  # runs in the child: Python ignores SIGXFSZ, writes get EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_workbook_failing_after_posting_leaves_a_rescue_json(tmp_path: Path) -> None:
    rng = random.Random(6)
    noise = ["".join(rng.choices(string.ascii_letters + string.digits, k=30_000)) for _ in "abc"]
    rows = [Deposit(r.invoice, r.amount, r.reference, note=n)  # about 25 KB each in the workbook
            for r, n in zip(synthetic_rows(3, PREFIX), noise, strict=True)]
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(synthetic_seed(3, prefix=PREFIX)), encoding="utf-8")
    with sandbox_server(tmp_path, seed=seed) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBEE_")}
        done = subprocess.run(
            batchpay_args(job, data, tmp_path, server, "--execute", "--yes"),
            capture_output=True, text=True, cwd=REPO, timeout=120, stdin=subprocess.DEVNULL,
            env={**env, "CHARGEBEE_API_KEY": SECRET_KEY}, preexec_fn=_limit_file_size,
        )  # fmt: skip
        ledger = server.ledger()
    assert len(ledger) == 3, done.stdout + done.stderr  # posted before the workbook failed
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert "the report could not be written to" in error
    assert "File too large" in error or "EFBIG" in error
    rescue = Path(error.split("every row's outcome are in ", 1)[1])
    saved = json.loads(rescue.read_text(encoding="utf-8"))
    assert rescue.stat().st_mode & 0o777 == 0o600
    assert saved["counts"]["posted"] == 3
    assert sorted(r["invoice_id"] for r in saved["rows"] if r["outcome"] == "posted") == sorted(
        r.invoice for r in rows)
    assert all(r["transaction_id"] for r in saved["rows"])
    assert noise[0] not in rescue.read_text(encoding="utf-8")
    assert "Report: not written" in done.stdout


def test_a_rescue_json_failing_half_way_is_not_left_behind(tmp_path: Path) -> None:
    """When the rescue JSON cannot be written either (here: larger than the process may write),
    no truncated JSON is left where it was tried (the report's folder, the working folder, the
    temporary folder): the Error line says none was written."""
    rng = random.Random(7)
    noise = ["".join(rng.choices(string.ascii_letters + string.digits, k=30_000)) for _ in "abc"]
    rows = synthetic_rows(400, PREFIX)
    rows[:3] = [Deposit(r.invoice, r.amount, r.reference, note=n)
                for r, n in zip(rows[:3], noise, strict=True)]
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(synthetic_seed(400, prefix=PREFIX)), encoding="utf-8")
    cwd, tmp, report = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "out" / "r.xlsx"
    cwd.mkdir()
    tmp.mkdir()
    with sandbox_server(tmp_path, seed=seed) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEBEE_")}
        done = subprocess.run(
            [*batchpay_args(job, data, tmp_path, server), "--report", str(report)],
            capture_output=True, text=True, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL,
            env={**env, "CHARGEBEE_API_KEY": SECRET_KEY, "TMPDIR": str(tmp)},
            preexec_fn=_limit_file_size,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert "no rescue file could be written either" in error
    left = [p.relative_to(tmp_path) for folder in (tmp_path / "out", cwd, tmp)
            for p in folder.rglob("*") if p.is_file()]
    assert left == []


def test_a_report_path_that_is_no_regular_file_is_refused_before_posting(tmp_path: Path) -> None:
    # The workbook is renamed over its path when complete: a FIFO (or /dev/null for a root
    # user) given as --report was replaced by the workbook, after posting.
    fifo = tmp_path / "out.xlsx"
    os.mkfifo(fifo)
    result, ledger = _execute(tmp_path, "--report", fifo)
    _refused(result, f"cannot write the report to {fifo}: it is not a regular file")
    assert ledger == []
    assert fifo.is_fifo()
