"""The library surface: ``run_and_report`` leaves the interpreter as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpay.api import _fewer_gc_passes, run_and_report
from batchpay.run import RunOptions
from batchpay.spec import SpecError

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "bank-deposits"


@pytest.fixture
def odd_gc_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)
    try:
        yield (1234, 5, 6)
    finally:
        gc.set_threshold(*before)


def test_gc_thresholds_restored_after_a_run(
    tmp_path: Path, odd_gc_thresholds: tuple[int, int, int]
) -> None:
    report = run_and_report(SAMPLES / "job.yaml", SAMPLES / "deposits.csv",
                            RunOptions(mode="dry-run", offline=True,
                                       journal_path=tmp_path / "j.sqlite"),
                            report_path=tmp_path / "r.xlsx")
    assert report.path.exists()
    assert gc.get_threshold() == odd_gc_thresholds


def test_gc_thresholds_restored_when_the_run_fails(
    tmp_path: Path, odd_gc_thresholds: tuple[int, int, int]
) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text("name: broken\n", encoding="utf-8")
    with pytest.raises(SpecError):
        run_and_report(spec, SAMPLES / "deposits.csv", RunOptions(mode="dry-run", offline=True),
                       report_path=tmp_path / "r.xlsx")
    assert gc.get_threshold() == odd_gc_thresholds


def test_overlapping_runs_restore_the_thresholds_when_the_last_one_ends(
    odd_gc_thresholds: tuple[int, int, int],
) -> None:
    first, second = _fewer_gc_passes(), _fewer_gc_passes()  # as two threads' runs would
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() != odd_gc_thresholds  # the second run is still going
    second.__exit__(None, None, None)
    assert gc.get_threshold() == odd_gc_thresholds
