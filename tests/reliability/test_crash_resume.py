"""Issue 8 item 2: crash and resume. SIGKILL at seeded points (real processes), the journal
deleted between runs, the idempotency window expired between crash and resume, and two
executes of one job started at once. Every scenario ends with exactly-once proved from the
sandbox ledger.

Larger version: BATCHPAY_KILL_POINTS=200 pytest tests/reliability -m chaos
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from bp_testkit import (
    FAST_POLICY,
    Deposit,
    assert_exactly_once,
    batchpay_args,
    counts,
    env_int,
    journal_states,
    kill_loop,
    kill_points,
    kill_when,
    ledger_duplicates,
    posted_references,
    remove_journal,
    run_options,
    sandbox_server,
    seeded_rng,
    seeded_store,
    start_batchpay,
    synthetic_rows,
    write_csv,
    write_job,
)

from batchpay.chargebee.retry import RetryPolicy
from batchpay.records import Outcome
from batchpay.run import IDEMPOTENCY_WINDOW, run_job
from batchpay.sandbox import FaultConfig, synthetic_seed
from batchpay.target import sandbox_target

pytestmark = pytest.mark.chaos
KILL_POINTS = env_int("BATCHPAY_KILL_POINTS", 20)
RESULTS = Path(__file__).with_name("last-run-figures.json")  # not committed; for the doc


def _figures(name: str, data: dict[str, object]) -> None:
    """Keep the measured figures of the last run, for docs/reliability.md."""
    try:
        figures = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        figures = {}
    figures[name] = data
    RESULTS.write_text(json.dumps(figures, indent=1, sort_keys=True), encoding="utf-8")


def test_sigkill_at_seeded_points_then_resume_posts_every_row_once(tmp_path: Path) -> None:
    points = kill_points(seeded_rng("kill-loop"), KILL_POINTS)
    with sandbox_server(tmp_path, faults={"latency_ms": 20}) as server:
        records = kill_loop(server, tmp_path, points, workers=1)
        ledger = server.ledger()
    assert len(records) == KILL_POINTS >= 20
    assert ledger_duplicates(ledger) == {}
    assert len(ledger) == 40 * KILL_POINTS  # nothing lost, nothing doubled
    mid_run = [r for r in records if r.landed_at > 0]
    assert len(mid_run) >= KILL_POINTS // 2
    _figures("kill_loop", {
        "kill_points": len(records), "rows_per_run": 40,
        "killed_mid_run": len(mid_run),
        "killed_with_calls_in_flight": sum(1 for r in records if r.in_flight),
        "in_flight_at_kill_total": sum(r.in_flight for r in records),
        "ledger_entries": len(ledger), "duplicates": 0, "rows_lost": 0,
    })


def test_journal_deleted_between_crash_and_resume(tmp_path: Path) -> None:
    """Without the journal, server state (invoice payments, transactions by reference) is what
    keeps the record_payment rows from being posted twice."""
    points = [(5, 0.0), (27, 0.01)]
    with sandbox_server(tmp_path, faults={"latency_ms": 20}) as server:
        records = kill_loop(server, tmp_path, points, workers=1, delete_journal=True)
        ledger = server.ledger()
    assert ledger_duplicates(ledger) == {} and len(ledger) == 40 * len(points)
    _figures("journal_deleted", {"kill_points": len(records), "duplicates": 0, "rows_lost": 0})


def test_journal_deleted_after_a_complete_run_posts_nothing(tmp_path: Path) -> None:
    n = 60
    rows = synthetic_rows(n, "JD-")
    # half the invoices paid in full, half partly: both must be recognised from server state
    rows = [r if i % 2 else Deposit(r.invoice, "40.00", r.reference) for i, r in enumerate(rows)]
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    store = seeded_store(n, "JD-")
    run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store)))
    remove_journal(tmp_path / "journal.sqlite")
    again = run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store)))
    assert counts(again)["posted"] == 0 and counts(again)["skipped"] == n
    assert_exactly_once(store.ledger(), [r.reference for r in rows])


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.mark.parametrize("with_reference", [True, False])
def test_idempotency_window_expired_between_crash_and_resume(
    tmp_path: Path, with_reference: bool
) -> None:
    """Calls left in flight (applied, answer lost), then 31 minutes pass on both clocks.

    With a reference the site shows whether each was applied: nothing is re-sent twice and
    nothing needs review. Without one the outcome cannot be known: needs review, never re-sent.
    """
    n = 40
    rows = synthetic_rows(n, "WX-")
    job = write_job(tmp_path / "job.yaml", with_reference=with_reference)
    data = write_csv(tmp_path / "d.csv", rows)
    store = seeded_store(n, "WX-")
    clock = Clock()
    lossy = FaultConfig(drop_after_apply_rate=0.5, error_5xx_rate=0.1, seed=5)
    first = run_job(job, data, run_options(
        "execute", tmp_path, target=sandbox_target(store, faults=lossy, clock=clock),
        policy=RetryPolicy(max_attempts=1), clock=clock))
    lost = [o for o in first.outcomes if o.outcome is Outcome.NEEDS_REVIEW]
    assert lost, "the fault seed must leave some calls in flight"
    applied_before = len(store.ledger())

    clock.offset += IDEMPOTENCY_WINDOW + 60  # 31 minutes later for batchpay and the site
    resumed = run_job(job, data, run_options(
        "execute", tmp_path, target=sandbox_target(store, clock=clock), clock=clock))
    assert ledger_duplicates(store.ledger()) == {}
    by_line = {o.origin.row: o for o in resumed.outcomes}
    if with_reference:
        assert counts(resumed)["needs_review"] == 0
        assert_exactly_once(store.ledger(), [r.reference for r in rows])
        for o in lost:  # applied then dropped: found on the site; a 500 before applying: sent now
            after = by_line[o.origin.row]
            assert after.outcome is Outcome.POSTED or "found transaction" in after.reason
    else:
        for o in lost:
            assert by_line[o.origin.row].outcome is Outcome.NEEDS_REVIEW
            assert "will not re-send" in by_line[o.origin.row].reason
        lost_invoices = {o.invoice_id for o in lost}
        per_invoice = [e["invoice_id"] for e in store.ledger()]
        assert all(per_invoice.count(i) <= 1 for i in lost_invoices)
        # what was applied stays applied once; only never-sent rows were added
        assert len(store.ledger()) == applied_before + counts(resumed)["posted"]
        third = run_job(job, data, run_options(
            "execute", tmp_path, target=sandbox_target(store, clock=clock), clock=clock))
        assert counts(third)["needs_review"] == len(lost)  # stable: still never re-sent
        assert len(store.ledger()) == applied_before + counts(resumed)["posted"]


def test_window_expired_after_sigkill_over_loopback(tmp_path: Path) -> None:
    """The same with a real SIGKILL and the server's clock advanced via POST /_sandbox/clock.

    Each request takes the server a second, so the kill leaves some half-done there; the clock
    moves once the server says it handles none any more (not after a guessed pause)."""
    n = 40
    rows = synthetic_rows(n, "WK-")
    job = write_job(tmp_path / "job.yaml", concurrency=4)
    data = write_csv(tmp_path / "d.csv", rows)
    clock = Clock()
    with sandbox_server(tmp_path, faults={"latency_ms": 1000}) as server:
        server.seed_with(synthetic_seed(n, prefix="WK-"))
        proc = start_batchpay(batchpay_args(job, data, tmp_path, server, "--execute", "--yes"))
        kill_when(proc, tmp_path / "journal.sqlite", 10, 0.05)
        in_flight = journal_states(tmp_path / "journal.sqlite")["in_flight"]
        server.wait_until_idle()  # what the server was applying is applied before the clock moves
        server.set_faults({})  # the resumed run at full speed
        server.advance_clock(IDEMPOTENCY_WINDOW + 60)
        clock.offset += IDEMPOTENCY_WINDOW + 60
        resumed = run_job(job, data, run_options("execute", tmp_path, base_url=server.api,
                                                 clock=clock, policy=FAST_POLICY))
        assert counts(resumed)["needs_review"] == 0
        assert_exactly_once(server.ledger(), [r.reference for r in rows])
    assert in_flight > 0


def test_two_executes_at_once_the_second_refuses(tmp_path: Path) -> None:
    n = 40
    rows = synthetic_rows(n, "TW-")
    job = write_job(tmp_path / "job.yaml", concurrency=2)
    data = write_csv(tmp_path / "d.csv", rows)
    with sandbox_server(tmp_path) as server:
        server.seed_with(synthetic_seed(n, prefix="TW-"))
        args = batchpay_args(job, data, tmp_path, server, "--execute", "--yes")
        # The server is paused before the first run starts: the first takes the lock, opens its
        # journal (only ever under the lock) and then waits on its first request, so it holds
        # the lock for as long as the server is paused, however slowly either process runs.
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)
        try:
            first = start_batchpay(args, out=tmp_path / "first.log")
            deadline = time.monotonic() + 120  # a hang guard, not a speed limit
            while not (tmp_path / "journal.sqlite").exists():
                assert time.monotonic() < deadline and first.poll() is None
                time.sleep(0.01)
            second = subprocess.run(args, capture_output=True, text=True, timeout=60,
                                    env=_env(), check=False, stdin=subprocess.DEVNULL)
        finally:
            server.proc.send_signal(signal.SIGCONT)
        assert first.wait(60) == 0
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another execute" in second.stderr
        assert_exactly_once(server.ledger(), [r.reference for r in rows])
        assert len(posted_references(server.ledger(), "TW-")) == n


def _env() -> dict[str, str]:
    from bp_testkit import SECRET_KEY, _child_env

    return _child_env({"CHARGEBEE_API_KEY": SECRET_KEY})
