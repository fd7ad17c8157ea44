"""Shared machinery for the workflow tests: a seeded in-process sandbox per test, the run modes,
the report workbook and the sandbox ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from batchpay.api import RunReport, run_and_report
from batchpay.records import Outcome, RowOutcome, RunResult
from batchpay.run import Mode, RunOptions
from batchpay.sandbox import SandboxStore, load_seed_file
from batchpay.target import sandbox_target

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SEED = SAMPLES / "sandbox-seed.yaml"

# What a dry-run prediction becomes when executed on the same, unchanged site.
EXECUTED = {
    Outcome.WOULD_POST: Outcome.POSTED,
    Outcome.WOULD_FAIL: Outcome.FAILED,
    Outcome.SKIPPED: Outcome.SKIPPED,
    Outcome.INVALID: Outcome.INVALID,
    Outcome.NEEDS_REVIEW: Outcome.NEEDS_REVIEW,
}


@dataclass
class Workflow:
    """One sample job on one input against a fresh sandbox seeded with the sample seed."""

    tmp: Path
    job: Path
    data: Path
    version: str = "v2"
    store: SandboxStore = field(init=False)
    runs: int = 0

    def __post_init__(self) -> None:
        self.store = SandboxStore(self.tmp / "sb.sqlite")
        self.store.load_seed(load_seed_file(SEED))

    def run(self, mode: Mode, job: Path | None = None, data: Path | None = None) -> RunReport:
        self.runs += 1
        options = RunOptions(
            mode=mode,
            target=sandbox_target(self.store, version=self.version),
            journal_path=self.tmp / "journal.sqlite",
            env={"BATCHPAY_OPERATOR": "tests"},
        )
        path = self.tmp / "reports" / f"{self.runs:02d}-{mode}.xlsx"
        return run_and_report(job or self.job, data or self.data, options, report_path=path)

    def ledger(self) -> list[dict[str, Any]]:
        return self.store.ledger()


def by_row(result: RunResult) -> dict[int, RowOutcome]:
    return {o.origin.row: o for o in result.outcomes}


def outcomes(result: RunResult) -> dict[int, Outcome]:
    return {o.origin.row: o.outcome for o in result.outcomes}


def assert_prediction_held(
    dry: RunResult, execute: RunResult, unpredictable: Mapping[int, Outcome] | None = None
) -> None:
    """Every row's dry-run prediction is what execute did, except rows listed (row -> actual)."""
    unpredictable = unpredictable or {}
    predicted = {row: EXECUTED[o] for row, o in outcomes(dry).items()}
    predicted.update(unpredictable)
    assert outcomes(execute) == predicted


def assert_rerun_posts_nothing(
    before: list[dict[str, Any]], after: list[dict[str, Any]], rerun: RunResult,
    executed: RunResult,
) -> None:
    assert after == before, "a re-run must not apply any write"
    assert Outcome.POSTED not in outcomes(rerun).values()
    for row, outcome in by_row(executed).items():
        again = by_row(rerun)[row]
        if outcome.outcome is Outcome.POSTED:
            assert again.outcome is Outcome.SKIPPED
            assert "already posted" in again.reason
        else:
            assert again.outcome is outcome.outcome


def assert_each_posted_once(ledger: Iterable[dict[str, Any]], executed: RunResult) -> None:
    """One ledger write per posted call, with the run's idempotency key, and no other writes."""
    keys = Counter(entry["idempotency_key"] for entry in ledger)
    posted = {o.idempotency_key for o in executed.outcomes if o.outcome is Outcome.POSTED}
    assert set(keys) == posted
    assert all(n == 1 for n in keys.values()), keys


def sheet_rows(path: Path, title: str) -> list[dict[str, Any]]:
    """A report sheet's rows as dicts by header (blank padding rows dropped)."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book[title].iter_rows(values_only=True))
    finally:
        book.close()
    header = [str(h) if h is not None else "" for h in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def sheet_names(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def summary_text(path: Path) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        cells = [v for row in book["Summary"].iter_rows(values_only=True) for v in row]
    finally:
        book.close()
    return "\n".join(str(v) for v in cells if v is not None)


@dataclass
class Cycle:
    """validate -> dry run -> execute -> re-run, with the standard checks already made."""

    validate: RunReport
    dry: RunReport
    execute: RunReport
    rerun: RunReport
    ledger: list[dict[str, Any]]


def full_cycle(wf: Workflow, unpredictable: Mapping[int, Outcome] | None = None) -> Cycle:
    """Run the whole monthly routine and check what holds for every workflow:

    validate sends nothing and finds no invalid row; the dry run sends nothing; execute does
    what the dry run predicted, row by row; each posted call is in the sandbox ledger once; a
    re-run of execute posts nothing; every report workbook opens and lists every row.
    """
    validate = wf.run("validate")
    assert Outcome.INVALID not in outcomes(validate.result).values()
    assert wf.ledger() == []
    dry = wf.run("dry-run")
    assert wf.ledger() == [], "a dry run must not write"
    execute = wf.run("execute")
    assert_prediction_held(dry.result, execute.result, unpredictable)
    ledger = wf.ledger()
    assert_each_posted_once(ledger, execute.result)
    rerun = wf.run("execute")
    assert_rerun_posts_nothing(ledger, wf.ledger(), rerun.result, execute.result)
    for report, mode in ((dry, "dry-run"), (execute, "execute"), (rerun, "execute")):
        check_workbook(report, mode)
    return Cycle(validate, dry, execute, rerun, ledger)


def check_workbook(report: RunReport, mode: str) -> None:
    """The workbook opens, its row sheets hold every row once, per outcome."""
    names = sheet_names(report.path)
    assert names[0] == "Summary"
    posted_sheet = "Posted" if mode == "execute" else "Would post"
    counts = Counter(o.outcome.category for o in report.result.outcomes)
    assert len(sheet_rows(report.path, posted_sheet)) == counts["posted"]
    assert len(sheet_rows(report.path, "Skipped")) == counts["skipped"]
    assert len(sheet_rows(report.path, "Errors")) == counts["failed"]
    assert report.path.with_suffix(".json").exists()


def rows_by_invoice(report: RunReport, sheet: str) -> dict[str, dict[str, Any]]:
    return {str(r["Invoice id"]): r for r in sheet_rows(report.path, sheet)}
