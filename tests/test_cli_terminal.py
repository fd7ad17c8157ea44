"""The terminal summary as the CLI prints it: 80 columns, outgoing rows on their own line, skip
reasons, sheet names that exist, and colour only on a terminal and never with NO_COLOR."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pty_output import read_until_closed

from batchpay.cli import main

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "samples" / "bank-deposits" / "job.yaml"
CSV = REPO / "samples" / "bank-deposits" / "deposits.csv"
ESC = "\x1b["


def state(folder: Path) -> list[str]:
    return ["--sandbox-state", str(folder / "sb.sqlite"), "--journal",
            str(folder / "j.sqlite"), "--reports-dir", str(folder / "reports")]


def test_dry_run_summary_fits_80_columns_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # "Report: reports/..." as a user sees it
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        main, ["run", str(JOB), str(CSV), *state(Path("."))], catch_exceptions=False)
    assert result.exit_code == 0, result.output  # a dry run: rows needing attention are listed
    lines = result.stdout.splitlines()  # the summary; progress goes to stderr
    assert max(len(line) for line in lines) <= 80, result.stdout
    outgoing = next(line for line in lines if line.startswith("money out, skipped"))
    assert outgoing.split()[3:7] == ["0", "0.00", "1", "-45.20"]  # EUR, then GBP
    read = next(line for line in lines if line.startswith("read (money in)"))
    assert read.split()[5:7] == ["2", "2,001.12"]  # GBP deposits, not netted with -45.20
    assert "  line 11: outgoing payment, not a deposit" in lines
    assert "  line 12: no invoice number in the description" in lines
    assert "To look at (all on the workbook's Errors and Fix and re-upload sheets):" in lines
    assert "(API v2)" not in result.output and "OK  " not in result.output
    assert "  would fail: line 14: invoice INV-9999 not found" in lines  # "would" says predicted
    assert ESC not in result.output


def run_on_a_terminal(tmp_path: Path, env: dict[str, str]) -> str:
    """The real CLI in a subprocess whose stdout is a pseudo-terminal; what it printed."""
    leader, follower = pty.openpty()
    command = [sys.executable, "-c", "from batchpay.cli import main; main()", "run", str(JOB),
               str(CSV), *state(tmp_path)]
    clean = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    process = subprocess.Popen(command, cwd=REPO, stdout=follower, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, env={**clean, **env})
    os.close(follower)
    shown = read_until_closed(leader)
    assert process.wait(timeout=120) == 0  # a dry run
    return shown.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_on_a_terminal_only_and_never_with_no_color(tmp_path: Path) -> None:
    coloured = run_on_a_terminal(tmp_path / "a", {})
    assert f"{ESC}32mTotals balance{ESC}0m:" in coloured
    assert f"  {ESC}31mwould fail{ESC}0m: line 14: " in coloured
    plain = run_on_a_terminal(tmp_path / "b", {"NO_COLOR": "1"})
    assert ESC not in plain
    assert "Totals balance:" in plain
