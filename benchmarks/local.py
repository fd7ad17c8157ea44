"""Case 1: the local pipeline (offline dry run) against the openpyxl write-only floor; RSS."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from . import generate

REPO = Path(__file__).resolve().parents[1]
JOBS = {"csv": REPO / "samples/bank-deposits/job.yaml",
        "xlsx": REPO / "samples/bank-deposits/job-xlsx.yaml"}


def make_input(workdir: Path, n: int, fmt: str) -> Path:
    path = workdir / f"deposits-{n}.{fmt}"
    if not path.exists():
        data = generate.rows(n)
        (generate.write_csv if fmt == "csv" else generate.write_xlsx)(path, data)
    return path


def pipeline_once(fmt: str, data: Path, out: Path) -> tuple[float, int, int]:
    """One offline dry run, in process: seconds, rows on the Would post sheet, its columns."""
    from batchpay.api import run_and_report
    from batchpay.report import columns
    from batchpay.run import RunOptions

    start = time.perf_counter()
    report = run_and_report(JOBS[fmt], data, RunOptions(mode="dry-run", offline=True,
                                                        journal_path=out.with_suffix(".sqlite")),
                            report_path=out)
    seconds = time.perf_counter() - start
    posted = sum(1 for o in report.result.outcomes if o.outcome.category == "posted")
    ncols = len(columns.posted_columns(report.result.info))
    return seconds, posted, ncols


FLOOR_ROW: list[Any] = [
    "line 123456", 123456, "11/11/2026", "NW-00000001", "ACME INC PAYMENT INV-000001 THANK YOU",
    "48,612.16", "EUR", "INV-000001", "syn_cust_1", "EUR", 48612.16, "bank_transfer",
    datetime(2026, 11, 11, 12, 0), "record_payment", "NW-00000001",
    "valid; not checked against the site", "bp1-0123456789abcdef0123456789abcdef01234567",
    "0", "x", "y",
]


def floor_once(rows: int, ncols: int, out: Path) -> float:
    """openpyxl write-only alone: a header and ``rows`` rows of ``ncols`` plain values
    (text, integers, a float, a datetime: the mix of a Would post row), no styles."""
    row = (FLOOR_ROW * (1 + ncols // len(FLOOR_ROW)))[:ncols]
    start = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Would post")
    ws.append([f"Column {i}" for i in range(ncols)])
    for _ in range(rows):
        ws.append(list(row))
    wb.save(out)
    return time.perf_counter() - start


def pipeline_vs_floor(workdir: Path, sizes: list[int], repeat: int,
                      formats: tuple[str, ...] = ("csv", "xlsx")) -> list[dict[str, Any]]:
    results = []
    for n in sizes:
        for fmt in formats:
            data = make_input(workdir, n, fmt)
            runs, floors = [], []
            posted = ncols = 0
            for i in range(repeat):  # interleaved, so load on the machine hits both alike
                seconds, posted, ncols = pipeline_once(fmt, data, workdir / f"run-{n}-{i}.xlsx")
                runs.append(seconds)
                floors.append(floor_once(n, ncols, workdir / f"floor-{n}-{i}.xlsx"))
            run, floor = statistics.median(runs), statistics.median(floors)
            results.append({"rows": n, "format": fmt, "posted_rows": posted, "columns": ncols,
                            "runs_s": runs, "floors_s": floors, "pipeline_s": run,
                            "floor_s": floor, "ratio": run / floor})
    return results


_RSS_CHILD = """
import json, sys, threading, time, psutil
from pathlib import Path
sys.path.insert(0, {repo!r})
from benchmarks.local import pipeline_once
proc = psutil.Process()
peak = [proc.memory_info().rss]
done = threading.Event()
def watch():
    while not done.wait(0.02):
        peak[0] = max(peak[0], proc.memory_info().rss)
threading.Thread(target=watch, daemon=True).start()
seconds, posted, ncols = pipeline_once({fmt!r}, Path({data!r}), Path({out!r}))
done.set()
peak[0] = max(peak[0], proc.memory_info().rss)
try:  # the kernel's high-water mark for this process image (reset by exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            peak[0] = max(peak[0], int(line.split()[1]) * 1024)
except OSError:
    pass
print(json.dumps({{"seconds": seconds, "peak_rss": peak[0]}}))
"""


def peak_rss(workdir: Path, sizes: list[int],
             formats: tuple[str, ...] = ("csv", "xlsx")) -> list[dict[str, Any]]:
    """Peak RSS of one offline dry run per size and format, each in a fresh interpreter (psutil
    sampling every 20 ms, and the kernel's VmHWM, whichever is higher). Not ``ru_maxrss``: Linux
    carries the parent's high-water mark into a forked child, so it reported this process's
    peak."""
    results = []
    for fmt, n in ((fmt, n) for fmt in formats for n in sizes):
        data = make_input(workdir, n, fmt)
        code = _RSS_CHILD.format(repo=str(REPO), fmt=fmt, data=str(data),
                                 out=str(workdir / f"rss-{fmt}-{n}.xlsx"))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=tempfile.gettempdir(), check=False, timeout=3600)
        if done.returncode != 0:  # e.g. a file over the reader's bounds: say so, measure the rest
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            results.append({"rows": n, "format": fmt, "refused": last})
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        results.append({"rows": n, "format": fmt, "peak_rss_mb": figures["peak_rss"] / 2**20,
                        "seconds": figures["seconds"]})
    return results
