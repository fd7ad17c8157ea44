"""Issue 8 item 1: chaos runs. A few hundred rows against the sandbox with faults on; every
row ends posted exactly once or reported failed / needs review; the ledger has no duplicate;
the control totals reconcile. Re-runs (faults still on) converge on every row posted once.

Larger version: BATCHPAY_CHAOS_ROWS=3000 pytest tests/reliability -m chaos
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bp_testkit import (
    Deposit,
    SandboxServer,
    assert_exactly_once,
    counts,
    env_int,
    journal_states,
    ledger_duplicates,
    posted_references,
    run_options,
    seeded_store,
    synthetic_rows,
    write_csv,
    write_job,
)

from batchpay.records import Outcome, RunResult
from batchpay.report import control_totals
from batchpay.run import run_job
from batchpay.sandbox import FaultConfig, synthetic_seed
from batchpay.target import sandbox_target

pytestmark = pytest.mark.chaos
ROWS = env_int("BATCHPAY_CHAOS_ROWS", 300)
RESULTS = Path(__file__).with_name("last-run-figures.json")

PROFILES: dict[str, dict[str, Any]] = {
    "latency-spikes": {"latency_ms": 0, "latency_jitter_ms": 40},
    "5xx": {"error_5xx_rate": 0.25},
    "429-burst-retry-after": {"max_concurrent": 6, "retry_after": True, "latency_ms": 5},
    "429-burst-no-retry-after": {"max_concurrent": 3, "retry_after": False, "latency_ms": 5},
    "lock-timeout": {"lock_timeout": True, "latency_ms": 2, "drop_after_apply_rate": 0.1},
    "apply-then-drop": {"drop_after_apply_rate": 0.25},
    "everything": {"error_5xx_rate": 0.15, "drop_after_apply_rate": 0.15, "max_concurrent": 5,
                   "retry_after": False, "latency_jitter_ms": 10},
}


def chaos_rows(n: int, prefix: str) -> list[Deposit]:
    """``n`` invoices of 100.00; every fifth gets two payments (60.00 then 40.00)."""
    rows = []
    for i, r in enumerate(synthetic_rows(n, prefix)):
        if i % 5 == 0:
            rows += [Deposit(r.invoice, "60.00", r.reference),
                     Deposit(r.invoice, "40.00", r.reference + "-B")]
        else:
            rows.append(r)
    return rows


def check_run(result: RunResult, ledger: list[dict[str, Any]]) -> dict[str, int]:
    """Posted rows applied once, the rest reported; totals reconcile with the ledger."""
    assert ledger_duplicates(ledger) == {}
    applied = {ref: e for e in ledger for ref in posted_references([e])}
    for o in result.outcomes:
        if o.outcome is Outcome.POSTED:
            assert o.raw["Reference"] in applied
            assert applied[o.raw["Reference"]]["amount"] == o.amount_minor
        else:
            assert o.outcome in (Outcome.FAILED, Outcome.NEEDS_REVIEW, Outcome.SKIPPED), o
            assert o.reason
    totals = control_totals(result.outcomes)
    assert all(t.balanced for t in totals)
    (usd,) = totals
    posted_sum = sum(o.amount_minor or 0 for o in result.outcomes if o.outcome is Outcome.POSTED)
    assert usd.by_category["posted"].amount_minor == posted_sum
    return dict(counts(result))


def _figures(name: str, data: dict[str, object]) -> None:
    try:
        figures = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        figures = {}
    figures.setdefault("chaos", {})[name] = data
    RESULTS.write_text(json.dumps(figures, indent=1, sort_keys=True), encoding="utf-8")


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_chaos_in_process(tmp_path: Path, profile: str) -> None:
    rows = chaos_rows(ROWS, "CH-")
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    store = seeded_store(ROWS, "CH-")
    faults = FaultConfig(seed=17, **PROFILES[profile])
    runs = []
    retries = 0
    for _ in range(5):
        result = run_job(job, data, run_options(
            "execute", tmp_path, target=sandbox_target(store, faults=faults)))
        runs.append(check_run(result, store.ledger()))
        retries += sum(max(0, o.attempts - 1) for o in result.outcomes)
        if runs[-1].get("posted", 0) + runs[-1].get("skipped", 0) == len(rows):
            break
    assert_exactly_once(store.ledger(), [r.reference for r in rows])
    if profile != "latency-spikes":
        assert retries > 0, "the faults were not hit"
    _figures(profile, {"rows": len(rows), "runs": runs, "ledger": len(store.ledger()),
                       "replays": store.replays(), "duplicates": 0, "rows_lost": 0,
                       "retries": retries})


def test_connection_refused_mid_run(tmp_path: Path) -> None:
    """The loopback server is killed mid-run and comes back: rows in the gap are reported
    (failed: never sent; needs review: sent, answer lost) and a re-run posts each once."""
    n = min(ROWS, 200)
    rows = synthetic_rows(n, "CR-")
    job, data = write_job(tmp_path / "job.yaml", concurrency=4), write_csv(tmp_path / "d.csv", rows)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(synthetic_seed(n, prefix="CR-")), encoding="utf-8")
    server = SandboxServer(state=tmp_path / "server.sqlite", seed=seed,
                           faults={"latency_ms": 15}).start()
    try:
        outcome: dict[str, RunResult] = {}
        runner = threading.Thread(target=lambda: outcome.setdefault("first", run_job(
            job, data, run_options("execute", tmp_path, base_url=server.api))))
        runner.start()
        deadline = time.monotonic() + 60
        while sum(journal_states(tmp_path / "journal.sqlite").values()) < n // 3:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert server.proc is not None
        server.proc.kill()  # connection refused from here on
        server.proc.wait(10)
        time.sleep(0.5)
        server.start()  # same port, same state file
        runner.join(120)
        first = outcome["first"]
        by = check_run(first, server.ledger())
        assert by.get("failed", 0) + by.get("needs_review", 0) > 0  # the gap was noticed
        second = run_job(job, data, run_options("execute", tmp_path, base_url=server.api))
        check_run(second, server.ledger())
        assert_exactly_once(server.ledger(), [r.reference for r in rows])
        _figures("connection-refused", {"rows": n, "first_run": by,
                                        "second_run": dict(counts(second)),
                                        "duplicates": 0, "rows_lost": 0})
    finally:
        server.stop()
