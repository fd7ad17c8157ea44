"""Reads are retried one request at a time: a 5xx on one page of a dry run's invoice reads
repeats that page, not every read before it, so a busy site cannot abort the run."""

from __future__ import annotations

import math
from pathlib import Path

from bp_testkit import (
    CountingTransport,
    run_options,
    seeded_store,
    synthetic_rows,
    with_transport,
    write_csv,
    write_job,
)

from batchpay.records import Outcome
from batchpay.run import run_job
from batchpay.sandbox import FaultConfig
from batchpay.target import sandbox_target

INVOICES = 450


def test_dry_run_survives_frequent_5xx_on_reads(tmp_path: Path) -> None:
    store = seeded_store(INVOICES, "RR-")
    job = write_job(tmp_path / "job.yaml", name="read-retries")
    data = write_csv(tmp_path / "deposits.csv", synthetic_rows(INVOICES, "RR-"))
    faults = FaultConfig(error_5xx_rate=0.4, seed=7)
    counter: list[CountingTransport] = []

    def count(inner: object) -> CountingTransport:
        counter.append(CountingTransport(inner))  # type: ignore[arg-type]
        return counter[0]

    target = with_transport(sandbox_target(store, faults=faults), count)
    result = run_job(job, data, run_options("dry-run", tmp_path, target=target))

    assert [o.outcome for o in result.outcomes] == [Outcome.WOULD_POST] * INVOICES
    pages = math.ceil(INVOICES / 100)
    reads = counter[0].count("GET", "/invoices")
    # Each of the 5 pages needed about 1 / (1 - 0.4) tries; a whole-block retry would need
    # many more, or give up: one page alone was retried, never the pages before it.
    assert pages < reads < pages * 4
    assert store.ledger() == []  # a dry run writes nothing
