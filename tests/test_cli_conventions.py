"""Issue 14 item 6: the conventions users expect of a CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchpay import __version__
from batchpay.cli import confirmation_lines, main
from batchpay.run import PlanSummary

HEAVY = ("pandas", "pandera", "openpyxl", "httpx", "starlette", "numpy", "batchpay.run",
         "batchpay.sandbox")


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help(flag: str) -> None:
    result = CliRunner().invoke(main, [flag])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: batchpay [OPTIONS] COMMAND")
    for command in ("run", "validate", "runs", "sandbox"):
        assert f"  {command} " in result.stdout
    assert "_BATCHPAY_COMPLETE=bash_source batchpay" in result.stdout  # shell completion


def test_subcommands_take_h_too() -> None:
    result = CliRunner().invoke(main, ["run", "-h"])
    assert result.exit_code == 0 and "--execute" in result.stdout


def test_python_dash_m_batchpay(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "batchpay", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"batchpay, version {__version__}\n"
    help_text = subprocess.run([sys.executable, "-m", "batchpay", "-h"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60).stdout
    assert help_text.startswith("Usage: batchpay ")  # named batchpay, not __main__.py


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"]])
def test_help_and_version_import_no_heavy_module(args: list[str]) -> None:
    """What keeps --help and --version fast (the issue's goal: <= 0.3 s): pandas, openpyxl,
    httpx and the sandbox are imported by the commands that use them, not at start-up."""
    code = ("import sys\nfrom batchpay.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
            f"or m in {HEAVY!r}), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_sandbox_commands_still_load_on_demand() -> None:
    # --help: click keeps a command's help option once built, and other tests run serve alone
    result = CliRunner().invoke(main, ["sandbox", "serve", "--help"])
    assert result.exit_code == 0 and "--rate-per-minute" in result.stdout


def test_confirmation_lines_never_split_a_number() -> None:
    """At 120 columns the one-line prompt wrapped inside an amount: one fact per line now."""
    summary = PlanSummary(
        calls=123_456, rows=123_460,
        totals={"USD": 123_456_789_012, "EUR": 98_765_432_100, "GBP": 5_000_000_00,
                "JPY": 1_234_567_890, "KWD": 12_345_678, "CHF": 1},
        skipped=1_234, failing=56, invalid=7,
        target="built-in sandbox (/a/rather/long/path/to/the/state/of/the/sandbox.sqlite)",
    )
    lines = confirmation_lines(summary)
    assert lines[0] == "About to send 123,456 call(s) for 123,460 row(s) to:"
    assert "  1,234,567,890.12 USD" in lines and "  1,234,567,890 JPY" in lines
    assert "  12,345.678 KWD" in lines
    assert lines[-1] == "Skipped: 1,234, failing: 56, invalid: 7."
    assert all(len(line) <= 80 for line in lines if "sandbox" not in line)


def test_json_output_is_valid_even_with_progress(tmp_path: Path) -> None:
    job = Path(__file__).resolve().parents[1] / "samples" / "bank-deposits" / "job.yaml"
    data = job.with_name("deposits.csv")
    result = CliRunner().invoke(main, ["validate", str(job), str(data), "--json", "--journal",
                                       str(tmp_path / "j.sqlite"), "--reports-dir",
                                       str(tmp_path)])
    assert json.loads(result.stdout)["info"]["job_name"] == "bank-deposits"
