"""The bad-input corpus through the real CLI: the right exit code, a message naming the place,
no traceback, and in execute mode nothing posted that should not be.

Every case runs twice through click's CliRunner (``validate``, and ``run --execute --yes`` into
a fresh sandbox, journal and reports folder); the cases tagged "subprocess" run once more as a
real process, to prove no traceback reaches stderr.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from badinput_cases import CASES, Case
from click.testing import CliRunner, Result

from batchpay.cli import main
from batchpay.sandbox import SandboxStore

REPO = Path(__file__).resolve().parents[2]
HUGE_LINE_SECONDS = 1.5  # refusing a 100 MB line must not mean reading it as CSV
MAX_LINE = 1000  # a clear error is short: no output line may quote a whole huge cell
# ESC (escape sequences), BEL, CSI, bidi overrides/isolates: input must never drive the terminal
TERMINAL_CONTROLS = frozenset("\x1b\x07\x9b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SEED_INVOICE = re.compile(r"^INV-10[0-2][0-9]$")  # the only ids a write may ever reach


SLOW = [pytest.mark.slow,
        pytest.mark.skipif(os.environ.get("BATCHPAY_SLOW") != "1", reason="set BATCHPAY_SLOW=1")]


def params(cases: list[Case]) -> list[object]:
    return [
        pytest.param(case, id=case.name, marks=(
            [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [])
            + (SLOW if "slow" in case.tags else []))
        for case in cases
    ]  # fmt: skip


def invoke(args: list[str | Path]) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def check_output(result: Result, code: int, expected: str, reports: Path) -> None:
    output = result.output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == code, output[:MAX_LINE]
    if code == 2:
        assert "Error: " in output, output
    raw = sorted({repr(c) for c in output if c in TERMINAL_CONTROLS})
    assert not raw, f"raw control characters reach the terminal: {raw}"
    long = [line[:80] + "..." for line in output.splitlines() if len(line) > MAX_LINE]
    assert not long, f"output lines over {MAX_LINE} characters: {long}"
    assert expected in output or expected in report_text(reports), output


def report_text(reports: Path) -> str:
    """Every text cell of the run's workbooks, for messages that live in the report."""
    texts = []
    for path in sorted(reports.glob("*.xlsx")):
        book = openpyxl.load_workbook(path, read_only=True)
        for sheet in book.worksheets:
            for values in sheet.iter_rows(values_only=True):
                texts += [str(v) for v in values if v is not None]
        book.close()
    return "\n".join(texts)


def assert_text_cells(reports: Path, values: tuple[str, ...]) -> None:
    """Each value is in the report as a plain string cell, never a formula."""
    (path,) = sorted(reports.glob("*.xlsx"))
    book = openpyxl.load_workbook(path)
    found: dict[str, list[str]] = {value: [] for value in values}
    for sheet in book.worksheets:
        for cells in sheet.iter_rows():
            for c in cells:
                assert c.data_type != "f", f"{sheet.title}!{c.coordinate} is a formula: {c.value}"
                if isinstance(c.value, str) and c.value.lstrip("'") in found:
                    found[c.value.lstrip("'")].append(c.data_type)
    for value, types in found.items():
        assert types, f"{value!r} is not in the report"
        assert set(types) == {"s"}, f"{value!r} written as {types}"


@pytest.mark.parametrize("case", params(CASES))
def test_validate(case: Case, tmp_path: Path) -> None:
    job, path = case.build(tmp_path / "in")
    reports = tmp_path / "reports"
    started = time.process_time()  # CPU time (in-process CliRunner): a busy machine cannot fail it
    result = invoke(["validate", job, path, "--reports-dir", reports,
                     "--journal", tmp_path / "journal.sqlite"])
    elapsed = time.process_time() - started
    check_output(result, case.validate, case.expected(job, path), reports)
    if case.text_cells:
        assert_text_cells(reports, case.text_cells)
    if "huge" in case.tags:
        assert elapsed < HUGE_LINE_SECONDS, f"took {elapsed:.1f}s to refuse"


@pytest.mark.parametrize("case", params(CASES))
def test_execute_posts_nothing_it_should_not(case: Case, tmp_path: Path) -> None:
    job, path = case.build(tmp_path / "in")
    state, reports = tmp_path / "sb.sqlite", tmp_path / "reports"
    result = invoke([
        "run", job, path, "--execute", "--yes", "--sandbox-state", state,
        "--journal", tmp_path / "journal.sqlite", "--reports-dir", reports,
    ])  # fmt: skip
    check_output(result, case.execute_code, case.expected(job, path, "execute"), reports)
    store = SandboxStore(state)
    try:
        ledger = store.ledger()
    finally:
        store.db.close()
    assert len(ledger) == case.posted, json.dumps(ledger, indent=1, default=str)
    keys = [entry["idempotency_key"] for entry in ledger]
    assert len(set(keys)) == len(keys), "a payment was posted twice"
    assert all(SEED_INVOICE.match(str(entry["invoice_id"])) for entry in ledger), ledger
    if case.text_cells:
        assert_text_cells(reports, case.text_cells)
        sent = json.dumps([entry["params"] for entry in ledger], default=str)
        for value in case.text_cells:  # posted exactly as read: no rounding, no formula guard
            assert json.dumps(value)[1:-1] in sent, value


SUBPROCESS = [case for case in CASES if "subprocess" in case.tags]


@pytest.mark.parametrize("case", params(SUBPROCESS))
def test_no_traceback_reaches_stderr(case: Case, tmp_path: Path) -> None:
    job, path = case.build(tmp_path / "in")
    done = subprocess.run(
        [sys.executable, "-m", "batchpay.cli", "run", str(job), str(path), "--execute", "--yes",
         "--sandbox-state", str(tmp_path / "sb.sqlite"), "--journal", str(tmp_path / "j.sqlite"),
         "--reports-dir", str(tmp_path / "reports")],
        capture_output=True, text=True, cwd=REPO, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == case.execute_code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert error_lines, done.stderr
    assert case.expected(job, path, "execute") in error_lines[0]


def test_the_corpus_is_large_and_named_once() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 40


def test_the_docs_give_the_corpus_size() -> None:
    text = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("<!-- bad-input -->", 1)[1].split("<!-- /bad-input -->", 1)[0]
    assert f"**{len(CASES)} cases**" in section
