"""The Summary sheet's "unknown" line says what its rows are (they are not "usually invalid")."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from click.testing import CliRunner

from batchpay.cli import main

JOB = Path(__file__).resolve().parents[1] / "samples" / "pending-invoices" / "job.yaml"


def test_unknown_rows_are_said_for_what_they_are(tmp_path: Path) -> None:
    """Closing invoices: the rows name no currency, each takes its invoice's. One closes
    (USD); one is skipped before any call, one fails (invoice not found) and one is invalid:
    those three have no currency, and the note says so in words that cover each of them."""
    data = tmp_path / "close.csv"
    data.write_text("Invoice,Close?,Comment,Note on invoice\nINV-1011,yes,done,\n"
                    "INV-1010,no,later,\nINV-9999,yes,x,\n,yes,x,\n", encoding="utf-8")
    report = tmp_path / "dry.xlsx"
    result = CliRunner().invoke(main, ["run", str(JOB), str(data), "--sandbox-state",
                                       str(tmp_path / "sb.sqlite"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    rows = [[c for c in row if c is not None]
            for row in openpyxl.load_workbook(report)["Summary"].iter_rows(values_only=True)]
    unknown = next(row for row in rows if row[:2] == ["unknown", "rows"])
    assert unknown[2:7] == [3, 0, 1, 1, 1]  # read; would post, skipped, would fail, invalid
    note = next(row[0] for row in rows if row and str(row[0]).startswith("unknown:"))
    assert "usually invalid" not in note
    for kind in ("invalid rows", "naming no currency", "not found", "not read"):
        assert kind in note
