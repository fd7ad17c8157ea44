"""The benchmark script (issue 7) runs end to end at tiny sizes and writes its report.

Timing is not asserted: the smoke run only keeps ``python -m benchmarks`` from rotting.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import main


def test_benchmark_smoke_run_writes_well_formed_results(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--smoke", "--out", str(out), "--workdir", str(tmp_path / "work")]) == 0
    text = out.read_text(encoding="utf-8")
    for heading in ("## Machine", "## Reproduce", "## 1. Local pipeline", "### Peak memory",
                    "## 2. Execute throughput", "## 3. Dry-run checks", "## 4. Under faults",
                    "## 5. Web review page", "## 6. A large dry run", "## Goals"):
        assert heading in text
    assert "python -m benchmarks --smoke" in text
    goals = text.split("## Goals", 1)[1]
    assert goals.count("**met**") + goals.count("**not met**") >= 4
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert {"machine", "local", "rss", "execute", "checks", "faults", "web",
            "dryrun"} <= set(figures)
    assert figures["web"][0]["views"]["first page"]["median_s"] > 0
    assert figures["dryrun"]["requests"] <= figures["dryrun"]["requests_goal"]
    assert figures["execute"]["batchpay"]["posted_once"] is True
    assert figures["faults"]["posted_once"] is True
    assert figures["checks"][0]["batchpay_requests"] < figures["checks"][0]["per_row_requests"]
    assert all(x["ratio"] > 0 for x in figures["local"])
