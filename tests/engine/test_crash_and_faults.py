"""Issue 4 "Done when": with faults on every row ends posted exactly once or reported; a run
killed with SIGKILL (a real process) and run again posts every row exactly once; the API key
appears in no report, journal row or log line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bp_testkit import (
    SECRET_KEY,
    assert_exactly_once,
    batchpay_args,
    counts,
    grep_files,
    key_forms,
    kill_loop,
    ledger_duplicates,
    posted_references,
    run_batchpay,
    run_options,
    sandbox_server,
    seeded_store,
    synthetic_rows,
    write_csv,
    write_job,
)

from batchpay.records import Outcome, RunResult
from batchpay.run import run_job
from batchpay.sandbox import FaultConfig, synthetic_seed
from batchpay.target import sandbox_target

FAULTS: dict[str, Any] = {
    "error_5xx_rate": 0.15, "drop_after_apply_rate": 0.15, "max_concurrent": 5,
    "retry_after": False, "seed": 11,
}


def _check_first_run(result: RunResult, ledger: list[dict[str, Any]]) -> None:
    """Posted rows are in the ledger once; every other row is reported, none silently lost."""
    assert ledger_duplicates(ledger) == {}
    applied = set(posted_references(ledger))
    for o in result.outcomes:
        ref = o.raw["Reference"]
        if o.outcome is Outcome.POSTED:
            assert ref in applied
        else:
            assert o.outcome in (Outcome.FAILED, Outcome.NEEDS_REVIEW), o
            assert o.reason


def test_faults_in_process_every_row_once_or_reported(tmp_path: Path) -> None:
    n = 120
    rows = synthetic_rows(n, "FLT-")
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    store = seeded_store(n, "FLT-")
    faults = FaultConfig(**FAULTS)
    first = run_job(job, data, run_options("execute", tmp_path,
                                           target=sandbox_target(store, faults=faults)))
    _check_first_run(first, store.ledger())
    assert any(o.replayed for o in first.outcomes)  # apply-then-drop was retried and replayed
    assert max(o.attempts for o in first.outcomes) > 1
    for _ in range(4):  # re-runs, faults still on, converge on everything posted once
        again = run_job(job, data, run_options("execute", tmp_path,
                                               target=sandbox_target(store, faults=faults)))
        if counts(again)["posted"] + counts(again)["skipped"] == n:
            break
    assert_exactly_once(store.ledger(), [r.reference for r in rows])


def test_faults_over_loopback_every_row_once_or_reported(tmp_path: Path) -> None:
    n = 60
    rows = synthetic_rows(n, "LFL-")
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(synthetic_seed(n, prefix="LFL-")), encoding="utf-8")
    with sandbox_server(tmp_path, seed=seed, faults=FAULTS) as server:
        first = run_job(job, data, run_options("execute", tmp_path, base_url=server.api))
        _check_first_run(first, server.ledger())
        for _ in range(4):
            again = run_job(job, data, run_options("execute", tmp_path, base_url=server.api))
            if counts(again)["posted"] + counts(again)["skipped"] == n:
                break
        assert_exactly_once(server.ledger(), [r.reference for r in rows])


def test_sigkill_at_several_points_then_rerun_posts_each_row_once(tmp_path: Path) -> None:
    with sandbox_server(tmp_path, faults={"latency_ms": 20}) as server:
        records = kill_loop(server, tmp_path, [(1, 0.0), (23, 0.01)], workers=1)
        assert ledger_duplicates(server.ledger()) == {}
    assert any(r.landed_at > 0 for r in records)  # at least one kill landed mid-run


def test_api_key_never_in_reports_journal_or_output(tmp_path: Path) -> None:
    """A distinctive key, faults that make errors and retries happen: grep for it everywhere."""
    n = 30
    rows = synthetic_rows(n, "SEC-")
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(synthetic_seed(n, prefix="SEC-")), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    outputs = []
    with sandbox_server(tmp_path, seed=seed, faults={**FAULTS, "error_5xx_rate": 0.3}) as server:
        for extra in ((), ("--execute", "--yes")):
            done = run_batchpay(batchpay_args(job, data, work, server, *extra))
            assert done.returncode in (0, 1), done.stderr
            outputs.append(done.stdout + done.stderr)
        wrong = "test_WRONGKEY_5be0c1d2e3f4"
        refused = run_batchpay(batchpay_args(job, data, work, server, "--journal",
                                             str(work / "other-journal.sqlite")), key=wrong)
        assert refused.returncode == 2
        assert "401" in refused.stderr or "authentication" in refused.stderr.lower()
        outputs.append(refused.stdout + refused.stderr)
        ledger = server.ledger()
    assert ledger_duplicates(ledger) == {}
    needles = key_forms(SECRET_KEY) + key_forms(wrong)
    text = "\n".join(outputs)
    assert not [k for k in needles if k in text]
    assert list((work / "reports").glob("*.xlsx")) and (work / "journal.sqlite").exists()
    assert grep_files(work, needles) == []  # reports (.xlsx, .json), journal, lock file


@pytest.mark.parametrize("mode", ["dry-run", "execute"])
def test_in_process_result_records_hold_no_key(tmp_path: Path, mode: str) -> None:
    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "d.csv", synthetic_rows(5, "REC-"))
    store = seeded_store(5, "REC-")
    target = sandbox_target(store)
    result = run_job(job, data, run_options(mode, tmp_path, target=target))
    assert target.api_key not in repr(result) and target.api_key not in repr(target)
