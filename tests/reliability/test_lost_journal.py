"""Issue 12 item 10: the journal is lost (``reports/`` deleted) and Chargebee's 30-minute
idempotency window has passed: no action may post a row a second time.

For every action, with the sample job and file: execute, delete the journal, move the clocks of
batchpay and the sandbox 31 minutes on, then dry run and execute again. Rows the site can show
(a v2 payment by reference, an invoice's status, an application's linked payment) are decided
from the site; rows that leave no trace (charge, collect_payment, a v1 payment) are reported
needs review, because the site's register of journals knows a journal that posted here is gone.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from bp_testkit import ManualClock, remove_journal

from batchpay.records import Outcome, RunResult
from batchpay.run import IDEMPOTENCY_WINDOW, RunOptions, run_job
from batchpay.sandbox import SandboxStore, load_seed_file
from batchpay.target import sandbox_target

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SKIP, REVIEW = Outcome.SKIPPED, Outcome.NEEDS_REVIEW
FAIL = {Outcome.WOULD_FAIL, Outcome.FAILED}  # refused by the checks: nothing sent
# action -> (job, file, API version, what rows posted by the lost journal may become now,
#            whether some of them can only be reviewed: no trace on the site)
CASES = {
    "record_payment by reference": (SAMPLES / "bank-deposits" / "job.yaml",
                                    SAMPLES / "bank-deposits" / "deposits.csv", "v2",
                                    {SKIP}, False),
    "record_payment, v1 (no look-up)": (SAMPLES / "legacy-v1" / "record-payment.yaml",
                                        SAMPLES / "cheque-log" / "cheques.xlsx", "v1",
                                        {SKIP, REVIEW}, True),
    "collect_payment": (SAMPLES / "collection-list" / "job.yaml",
                        SAMPLES / "collection-list" / "collections.csv", "v2",
                        {SKIP, REVIEW}, True),
    "charge": (SAMPLES / "charge-list" / "job.yaml", SAMPLES / "charge-list" / "charges.csv",
               "v2", {REVIEW}, True),
    "apply_payments": (SAMPLES / "allocation" / "job.yaml",
                       SAMPLES / "allocation" / "allocation.csv", "v2", {SKIP, *FAIL}, False),
    "close_invoice": (SAMPLES / "pending-invoices" / "job.yaml",
                      SAMPLES / "pending-invoices" / "pending.csv", "v2", {SKIP, *FAIL}, False),
}


class Site:
    def __init__(self, tmp: Path, version: str) -> None:
        self.tmp, self.version = tmp, version
        self.clock = ManualClock()
        self.store = SandboxStore(tmp / "sandbox.sqlite")
        self.store.load_seed(load_seed_file(SAMPLES / "sandbox-seed.yaml"))

    def run(self, mode: str, job: Path, data: Path, **kw: object) -> RunResult:
        kw.setdefault("journal_path", self.tmp / "reports" / "journal.sqlite")
        options = RunOptions(
            mode=mode,  # type: ignore[arg-type]
            target=sandbox_target(self.store, version=self.version, clock=self.clock),
            clock=self.clock, env={"BATCHPAY_OPERATOR": "tests"}, **kw,  # type: ignore[arg-type]
        )
        return run_job(job, data, options)


def _lines(result: RunResult, outcome: Outcome) -> set[int]:
    return {o.origin.row for o in result.outcomes if o.outcome is outcome}


@pytest.mark.parametrize("case", list(CASES))
def test_lost_journal_past_the_window_posts_nothing_twice(tmp_path: Path, case: str) -> None:
    job, data, version, allowed, review = CASES[case]
    site = Site(tmp_path, version)
    first = site.run("execute", job, data)
    posted = _lines(first, Outcome.POSTED)
    ledger = site.store.ledger()
    assert posted and len(ledger) >= 1
    remove_journal(tmp_path / "reports" / "journal.sqlite")
    site.clock.now += IDEMPOTENCY_WINDOW + 60  # the site forgot every idempotency key

    dry = site.run("dry-run", job, data)
    outcomes = {o.origin.row: o for o in dry.outcomes}
    for line in posted:
        assert outcomes[line].outcome in allowed, (line, outcomes[line].reason)
    reviewed = [outcomes[line] for line in posted if outcomes[line].outcome is REVIEW]
    assert bool(reviewed) is review
    if review:
        assert "is missing; a " in reviewed[0].reason
        assert any("journal(s) that recorded posts to this site are missing" in note
                   for note in dry.info.notes)

    again = site.run("execute", job, data)
    assert site.store.ledger() == ledger, "a row was posted a second time"
    assert not _lines(again, Outcome.POSTED)
    by_line = {o.origin.row: o.outcome for o in again.outcomes}
    assert Counter(by_line[line] for line in posted).keys() <= allowed


def test_forgetting_the_missing_journal_is_explicit_and_then_rows_post(tmp_path: Path) -> None:
    """After checking Chargebee by hand, --forget-missing-journals lifts the review: what is
    posted then is the operator's decision (here: a new row of the charge list)."""
    job, data, version, _, _ = CASES["charge"]
    site = Site(tmp_path, version)
    site.run("execute", job, data)
    remove_journal(tmp_path / "reports" / "journal.sqlite")
    site.clock.now += IDEMPOTENCY_WINDOW + 60
    held = site.run("execute", job, data)
    assert not _lines(held, Outcome.POSTED)
    assert _lines(held, Outcome.NEEDS_REVIEW)
    forgot = site.run("execute", job, data, forget_missing_journals=True)
    assert any("forgot 1 missing journal" in note for note in forgot.info.notes)
    later = site.run("dry-run", job, data)  # the register no longer lists the lost journal
    assert not any("are missing" in note for note in later.info.notes)


def test_an_application_shown_on_the_invoice_is_not_applied_again(tmp_path: Path) -> None:
    """apply_payments leaves a trace: the invoice lists the transaction in linked_payments.
    With the journal lost past the window, a partial application (the invoice still due, the
    customer still holding excess) is skipped from that trace, not applied again."""
    from test_rerun_edited_file import ALLOCATION_JOB, ALLOCATION_SEED, ROW_T1

    clock = ManualClock()
    store = SandboxStore(tmp_path / "sandbox.sqlite")
    store.load_seed(ALLOCATION_SEED)
    job = tmp_path / "job.yaml"
    job.write_text(ALLOCATION_JOB, encoding="utf-8")
    data = tmp_path / "allocation.csv"
    data.write_text("Invoice,Payment Txn,Apply Amount,Note\n" + ROW_T1, encoding="utf-8")

    def run(mode: str) -> RunResult:
        return run_job(job, data, RunOptions(
            mode=mode,  # type: ignore[arg-type]
            target=sandbox_target(store, clock=clock), clock=clock,
            journal_path=tmp_path / "reports" / "journal.sqlite"))

    assert run("execute").outcomes[0].outcome is Outcome.POSTED
    ledger = store.ledger()
    remove_journal(tmp_path / "reports" / "journal.sqlite")
    clock.now += IDEMPOTENCY_WINDOW + 60
    again = run("execute").outcomes[0]
    assert again.outcome is Outcome.SKIPPED
    assert "already applied: invoice A shows transaction(s) t1" in again.reason
    assert store.ledger() == ledger


def test_starting_the_sandbox_over_is_a_new_site_not_a_lost_journal(tmp_path: Path) -> None:
    """The quickstart's "start over: delete .batchpay/ and reports/": a sandbox state created
    afresh has had no journal post to it, so nothing is held for review."""
    import shutil

    from click.testing import CliRunner

    from batchpay.cli import main

    job, data, _, _, _ = CASES["charge"]
    args = [
        "run", str(job), str(data), "--execute", "--yes",
        "--sandbox-state", str(tmp_path / ".batchpay" / "sandbox.sqlite"),
        "--journal", str(tmp_path / "reports" / "journal.sqlite"),
        "--reports-dir", str(tmp_path / "reports"),
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output  # two rows of the list fail on the site
    store = SandboxStore(tmp_path / ".batchpay" / "sandbox.sqlite")
    assert len(store.ledger()) == 4
    store.close()
    shutil.rmtree(tmp_path / "reports")
    held = CliRunner().invoke(main, args)  # the journal alone is gone: held for review
    assert "are missing" in held.output and "needs review" in held.output, held.output
    shutil.rmtree(tmp_path / "reports")
    shutil.rmtree(tmp_path / ".batchpay")
    again = CliRunner().invoke(main, args)
    assert "are missing" not in again.output, again.output
    store = SandboxStore(tmp_path / ".batchpay" / "sandbox.sqlite")
    assert len(store.ledger()) == 4  # the fresh sandbox's own charges, once
    store.close()


def test_a_journal_moved_and_named_with_journal_is_not_missing(tmp_path: Path) -> None:
    """Archiving reports/ somewhere else and naming the journal there keeps every promise: the
    posted charges are skipped from it, and nothing is held for review."""
    job, data, version, _, _ = CASES["charge"]
    site = Site(tmp_path, version)
    first = site.run("execute", job, data)
    posted = _lines(first, Outcome.POSTED)
    ledger = site.store.ledger()
    (tmp_path / "reports").rename(tmp_path / "archive")
    site.clock.now += IDEMPOTENCY_WINDOW + 60
    again = site.run("execute", job, data,
                     journal_path=tmp_path / "archive" / "journal.sqlite")
    assert _lines(again, Outcome.SKIPPED) >= posted
    assert not _lines(again, Outcome.NEEDS_REVIEW)
    assert not any("are missing" in note for note in again.info.notes)
    assert site.store.ledger() == ledger
