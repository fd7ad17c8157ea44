"""Ctrl-C during execute: no new calls start, the calls in flight finish and are journalled,
the run reports what it left unsent and exits 1; the next run posts the rest, each once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from bp_testkit import (
    assert_exactly_once,
    batchpay_args,
    journal_states,
    run_batchpay,
    sandbox_server,
    start_batchpay,
    synthetic_rows,
    write_csv,
    write_job,
)

from batchpay.sandbox import synthetic_seed

ROWS = 30


def test_ctrl_c_stops_cleanly_and_the_rerun_finishes(tmp_path: Path) -> None:
    job = write_job(tmp_path / "job.yaml", name="interrupt", concurrency=2)
    rows = synthetic_rows(ROWS, "INT-")
    data = write_csv(tmp_path / "deposits.csv", rows)
    journal = tmp_path / "journal.sqlite"
    # Each call takes a second, so the first run is still far from done (26 rows: 13 s at two
    # calls at a time) when the test, however slowly it is scheduled, presses Ctrl-C.
    with sandbox_server(tmp_path, faults={"latency_ms": 1000}) as server:
        server.seed_with(synthetic_seed(ROWS, prefix="INT-"))
        args = batchpay_args(job, data, tmp_path, server, "--execute", "--yes")
        out = tmp_path / "first.txt"
        proc = start_batchpay(args, out=out)
        deadline = time.monotonic() + 60
        while sum(journal_states(journal).values()) < 4:
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 1, out.read_text()
        first = journal_states(journal)
        assert first["in_flight"] == 0  # what was in flight finished and was settled
        assert 0 < first["posted"] < ROWS  # it stopped early
        assert len(server.ledger()) == first["posted"]
        assert "Traceback" not in out.read_text()

        server.set_faults({"latency_ms": 0})
        rerun = run_batchpay(args)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert_exactly_once(server.ledger(), [r.reference for r in rows], prefix="INT-")

