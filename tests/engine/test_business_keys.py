"""Issue 12 items 11-13: a business key never makes two payments one (an empty part, a value
imitating the separator), and invisible characters never make one payment two; a journal
written before the key change still stops re-posting. Real client, in-process sandbox."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from bp_testkit import (
    Deposit,
    ManualClock,
    run_options,
    seeded_store,
    synthetic_rows,
    write_csv,
    write_job,
)
from click.testing import CliRunner

from batchpay.cli import main
from batchpay.records import Outcome, RunResult
from batchpay.run import IDEMPOTENCY_WINDOW, run_job
from batchpay.sandbox import SandboxStore
from batchpay.target import sandbox_target

SEED = {
    "customers": [{"id": "c1", "currency": "USD", "payment_sources": []}],
    "invoices": [
        {"id": "A", "customer": "c1", "status": "payment_due", "total": 100000},
        {"id": "B", "customer": "c1", "status": "payment_due", "total": 100000},
        {"id": "A|invoice_id=B", "customer": "c1", "status": "payment_due", "total": 100000},
    ],
}


def _store(tmp: Path) -> SandboxStore:
    store = SandboxStore(tmp / "sandbox.sqlite")
    store.load_seed(SEED)
    return store


def _by_line(result: RunResult) -> dict[int, tuple[Outcome, str]]:
    return {o.origin.row: (o.outcome, o.reason) for o in result.outcomes}


def test_an_empty_business_key_part_is_an_invalid_row_naming_the_column(tmp_path: Path) -> None:
    """business_key [reference] with an optional, empty reference: two different payments
    must not collapse into one (before: the second was "duplicate of line 2")."""
    store = _store(tmp_path)
    job = write_job(tmp_path / "job.yaml", with_reference=False, business_key="[reference]")
    data = write_csv(tmp_path / "d.csv", [Deposit("A", "100.00", ""), Deposit("B", "50.00", ""),
                                          Deposit("B", "20.00", "R-3")])
    result = run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store),
                                            skip_invalid=True))
    lines = _by_line(result)
    for line in (2, 3):
        outcome, reason = lines[line]
        assert outcome is Outcome.INVALID
        assert f'line {line}, column "Reference": "" is empty, but it is part of the business ' \
               "key (reference)" in reason
    assert lines[4][0] is Outcome.POSTED
    assert [e["invoice_id"] for e in store.ledger()] == ["B"]
    refused = CliRunner().invoke(main, [
        "run", str(job), str(data), "--execute", "--yes", "--journal", str(tmp_path / "j2"),
        "--sandbox-state", str(tmp_path / "cli-sandbox.sqlite"),
        "--reports-dir", str(tmp_path / "reports")])
    assert refused.exit_code == 2
    assert 'first: line 2, column "Reference": "" is empty' in refused.output


def test_a_value_imitating_the_separator_does_not_collapse_two_keys(tmp_path: Path) -> None:
    """("A|invoice_id=B" on invoice B) and ("A" on invoice "A|invoice_id=B") were one key."""
    store = _store(tmp_path)
    job = write_job(tmp_path / "job.yaml", business_key="[reference, invoice_id]")
    data = write_csv(tmp_path / "d.csv", [Deposit("B", "10.00", "R|invoice_id=A"),
                                          Deposit("A|invoice_id=B", "10.00", "R")])
    result = run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store)))
    assert [o.outcome for o in result.outcomes] == [Outcome.POSTED, Outcome.POSTED]
    assert sorted(e["invoice_id"] for e in store.ledger()) == ["A|invoice_id=B", "B"]


VARIANTS = ["NW-0001", "NW-0001\u200b", "\ufeffNW-0001", " NW-0001 ", "ＮＷ－０００１",
            "NW\u2060-0001"]


def test_invisible_characters_do_not_make_one_payment_several(tmp_path: Path) -> None:
    store = _store(tmp_path)
    job = write_job(tmp_path / "job.yaml", with_reference=False, business_key="[reference]")
    rows = [Deposit("A", "10.00", ref) for ref in VARIANTS]
    result = run_job(job, write_csv(tmp_path / "d.csv", rows),
                     run_options("execute", tmp_path, target=sandbox_target(store)))
    lines = _by_line(result)
    assert lines[2][0] is Outcome.POSTED
    for line in range(3, 2 + len(VARIANTS)):
        assert lines[line] == (Outcome.SKIPPED,
                               "duplicate of line 2 in this file (same business key)"), line
    assert len(store.ledger()) == 1
    # and across runs: a later file spelling the reference with a zero-width space
    later = run_job(job, write_csv(tmp_path / "d2.csv", [Deposit("A", "10.00", "NW-0001\u200b")]),
                    run_options("execute", tmp_path, target=sandbox_target(store)))
    assert later.outcomes[0].outcome is Outcome.SKIPPED
    assert len(store.ledger()) == 1


def _legacy_key(site: str, action: str, business_key: str) -> str:
    """How batchpay derived idempotency keys before the site identity and the JSON keys."""
    digest = hashlib.sha256(f"{site}\x1f{action}\x1f{business_key}".encode()).hexdigest()
    return "bp1-" + digest[:40]


def test_a_journal_written_before_the_key_change_still_stops_re_posting(tmp_path: Path) -> None:
    """Rows posted by an earlier release (site "sandbox", keys "reference=…|invoice_id=…|
    amount=…") are skipped, also past the idempotency window, where only the journal knows."""
    clock = ManualClock()
    store = seeded_store(6, "LG-", tmp_path / "sandbox.sqlite")
    job = write_job(tmp_path / "job.yaml", with_reference=False)  # no reference: no site trace
    deposits = synthetic_rows(6, "LG-")
    data = write_csv(tmp_path / "d.csv", deposits)
    first = run_job(job, write_csv(tmp_path / "first.csv", deposits[:4]),
                    run_options("execute", tmp_path, target=sandbox_target(store, clock=clock),
                                clock=clock))
    assert [o.outcome for o in first.outcomes] == [Outcome.POSTED] * 4
    # Rewrite the journal the way the earlier release wrote it.
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    for deposit in deposits[:4]:
        old = f"reference={deposit.reference}|invoice_id={deposit.invoice}|amount=10000"
        db.execute("UPDATE calls SET site = 'sandbox', business_key = ?, idempotency_key = ?"
                   " WHERE invoice_id = ?",
                   (old, _legacy_key("sandbox", "record_payment", old), deposit.invoice))
    db.commit()
    db.close()
    clock.now += IDEMPOTENCY_WINDOW + 60  # the site forgot every key: only the journal knows
    again = run_job(job, data, run_options("execute", tmp_path, clock=clock,
                                           target=sandbox_target(store, clock=clock)))
    outcomes = [o.outcome for o in again.outcomes]
    assert outcomes == [Outcome.SKIPPED] * 4 + [Outcome.POSTED] * 2
    assert "already posted in an earlier run" in again.outcomes[0].reason
    assert sorted(e["invoice_id"] for e in store.ledger()) == [d.invoice for d in deposits]
