"""`batchpay validate JOB FILE`: exit codes, the first failure line, --output, malformed input.

Fixtures live in tests/data/validate: job.yaml (a deposit export with a decimal comma) and
one tiny file per case.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from batchpay.cli import main

DATA = Path(__file__).resolve().parent / "data" / "validate"
HEADER = ["row", "sheet", "column", "value", "problem", "expected"]
BAD_AMOUNT = (
    'line 3, column "Amount": "12,3x" is not an amount (expected decimal comma, e.g. 1.234,56)'
)


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    """A copy of the fixtures, so specs can be varied per test."""
    target = tmp_path / "job"
    shutil.copytree(DATA, target)
    return target


def validate(job: Path, file: Path, tmp_path: Path, *extra: str) -> Result:
    args = ["validate", str(job), str(file), "--reports-dir", str(tmp_path / "reports"),
            "--journal", str(tmp_path / "journal.sqlite"), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def error_line(result: Result) -> str:
    """The one ``Error:`` line: nothing else on stderr (no step reported "done") or stdout."""
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


def test_clean_file_exits_0(job_dir: Path, tmp_path: Path) -> None:
    result = validate(job_dir / "job.yaml", job_dir / "clean.csv", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('Validation of "clean.csv" (job "deposits"): 1 row\n')
    assert "Totals balance: every row is counted once" in result.stdout
    reports = list((tmp_path / "reports").glob("deposits-*-validate.xlsx"))
    assert len(reports) == 1


def test_clean_xlsx_exits_0(job_dir: Path, tmp_path: Path) -> None:
    spec = job_dir / "job.yaml"
    spec.write_text(spec.read_text().replace("format: csv", "format: xlsx\n  sheet: Deposits"))
    result = validate(spec, job_dir / "clean.xlsx", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('Validation of "clean.xlsx" (job "deposits"): 1 row\n')


def test_failing_rows_exit_1_and_print_the_first_failure(job_dir: Path, tmp_path: Path) -> None:
    result = validate(job_dir / "job.yaml", job_dir / "bad-amount.csv", tmp_path)
    assert result.exit_code == 1
    listed = result.stdout.split("\nReport: ")[1].splitlines()[1:]  # the failures follow
    failures = [line.strip() for line in listed if line.startswith("  line")]
    assert failures == [BAD_AMOUNT]
    assert result.stdout.count("is not an amount") == 1  # listed once, not again in the summary
    assert "Traceback" not in result.output


def test_output_csv(job_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "failures.csv"
    result = validate(job_dir / "job.yaml", job_dir / "bad-amount.csv", tmp_path,
                      "--output", str(out))  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.endswith(f"Failures written to {out}\n")
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        HEADER,
        ["3", "", "Amount", "12,3x", "is not an amount", "decimal comma, e.g. 1.234,56"],
    ]


def test_output_xlsx(job_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "failures.xlsx"
    result = validate(job_dir / "job.yaml", job_dir / "bad-amount.csv", tmp_path,
                      "--output", str(out))  # fmt: skip
    assert result.exit_code == 1
    sheet = load_workbook(out, read_only=True)["Failures"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows == [
        HEADER,
        ["3", None, "Amount", "12,3x", "is not an amount", "decimal comma, e.g. 1.234,56"],
    ]


def test_report_path(job_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "mine.xlsx"
    args = ["validate", str(job_dir / "job.yaml"), str(job_dir / "clean.csv"),
            "--report", str(report), "--journal", str(tmp_path / "j.sqlite")]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0
    assert f"Report: {report}" in result.output
    assert report.is_file()
    assert report.with_suffix(".json").is_file()


@pytest.mark.parametrize(
    ("file_name", "spec_change", "message"),
    [
        ("latin-1.csv", None,
         "{file}: line 2 is not valid utf-8 (byte 0xe9); set input.encoding, e.g. cp1252 or "
         "latin-1"),
        ("ragged.csv", None, '{file}: line 2 has 5 fields, the header (line 1: "Date | Invoice | '
         'Amount") has 3; if line 1 is not the header, set input.skip_lines, or read the file '
         "with header: false and columns: [...]"),
        ("empty.csv", None, "{file}: the file is empty"),
        ("no-amount-column.csv", None,
         '{file}: column "Amount" not found in the header (line 1); found: "Date", "Invoice"'),
        ("clean.xlsx", "format: xlsx\n  sheet: Movements",
         '{file}: no sheet "Movements"; the sheets are "Deposits"'),
        ("csv-named.xlsx", "format: xlsx",
         "{file} is not an Excel workbook (it looks like text); set input.format: csv"),
    ],
)
def test_malformed_input_exits_2_with_one_line(
    job_dir: Path, tmp_path: Path, file_name: str, spec_change: str | None, message: str
) -> None:
    spec = job_dir / "job.yaml"
    if spec_change:
        spec.write_text(spec.read_text().replace("format: csv", spec_change))
    file = job_dir / file_name
    result = validate(spec, file, tmp_path)
    assert result.exit_code == 2
    assert error_line(result) == f"Error: {message.format(file=file)}"
    assert "Traceback" not in result.output


def test_latin_1_file_reads_with_the_right_encoding(job_dir: Path, tmp_path: Path) -> None:
    spec = job_dir / "job.yaml"
    spec.write_text(spec.read_text().replace("format: csv", "format: csv\n  encoding: latin-1"))
    result = validate(spec, job_dir / "latin-1.csv", tmp_path)
    assert result.exit_code == 0, result.output


def test_spec_with_unknown_key_exits_2(job_dir: Path, tmp_path: Path) -> None:
    spec = job_dir / "job.yaml"
    spec.write_text(spec.read_text().replace("name: deposits", "name: deposits\ncolour: red"))
    result = validate(spec, job_dir / "clean.csv", tmp_path)
    assert result.exit_code == 2
    assert error_line(result) == f"Error: {spec}: colour: unknown key"


def test_spec_naming_an_unknown_schema_exits_2(job_dir: Path, tmp_path: Path) -> None:
    spec = job_dir / "job.yaml"
    spec.write_text(spec.read_text().replace("schema: bank_deposit", "schema: bank_deposits"))
    result = validate(spec, job_dir / "clean.csv", tmp_path)
    assert result.exit_code == 2
    assert error_line(result).startswith(f"Error: {spec}: schema: no schema 'bank_deposits' (")
    assert "Traceback" not in result.output


def test_missing_file_is_a_usage_error(job_dir: Path, tmp_path: Path) -> None:
    result = validate(job_dir / "job.yaml", job_dir / "missing.csv", tmp_path)
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_failures_listed_without_terminal_escape_sequences(job_dir: Path, tmp_path: Path) -> None:
    hostile = job_dir / "hostile.csv"
    hostile.write_text('Date,Invoice,Amount\n01/11/2026,INV-1,"1\x1b[2J\x07"\n', encoding="utf-8")
    result = validate(job_dir / "job.yaml", hostile, tmp_path)
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert 'line 2, column "Amount": "1?[2J?" is not an amount' in result.output
