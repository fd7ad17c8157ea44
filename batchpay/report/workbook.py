"""The reconciliation workbook: Summary first, then one sheet per outcome, then the rows to
fix. Written streaming (XlsxWriter, ``constant_memory``) to a temporary file, renamed when
complete."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.exceptions import FileCreateError

from batchpay.fixsheet import FIX_SHEET, MARKER
from batchpay.records import RowOutcome, RunInfo, RunResult

from . import columns as cols
from .cells import OUTCOME_FILLS, CellMaker
from .sheets import EXCEL_MAX_ROWS, Heading, write_rows
from .summary import SheetGuide, write_summary
from .totals import category_counts, control_totals
from .words import is_execute


@dataclass(frozen=True)
class RowSheet:
    """A row sheet to write: title, tab colour, columns, the rows and what they are."""

    title: str
    category: str
    about: str
    columns: list[Any]
    rows: Callable[[], Iterable[Any]]
    count: int


def default_report_path(reports_dir: Path, job_name: str, mode: str, when: datetime) -> Path:
    """``reports/<job>-<YYYYMMDD-HHMMSS>-<mode>.xlsx``, the job name made file-name safe."""
    job = re.sub(r"[^A-Za-z0-9._-]+", "-", job_name).strip("-.") or "job"
    return Path(reports_dir) / f"{job}-{when:%Y%m%d-%H%M%S}-{mode}.xlsx"


def write_report(
    result: RunResult, path: Path, *, max_rows_per_sheet: int = EXCEL_MAX_ROWS
) -> Path:
    """Write the workbook to ``path`` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheets = row_sheets(result)
    guide = [SheetGuide(s.title, s.about, s.count) for s in sheets]
    info = result.info
    heading = Heading(info.job_name, info.mode, info.started_at)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    # XlsxWriter keeps each sheet's rows in a temporary file until the workbook is closed:
    # in a folder of their own, removed whether the writing completes or fails half-way
    with tempfile.TemporaryDirectory(prefix="batchpay-report-") as scratch:
        try:
            wb = Workbook(tmp, {**OPTIONS, "tmpdir": scratch})
            wb.set_properties({"author": "batchpay"})
            wb.set_custom_property(MARKER, FIX_SHEET)
            cells = CellMaker(wb)
            write_summary(cells, result, control_totals(result.outcomes), guide, heading)
            for sheet in sheets:
                write_rows(cells, sheet.title, sheet.columns, sheet.rows(),
                           max_rows=max_rows_per_sheet, tab_color=OUTCOME_FILLS[sheet.category],
                           heading=heading)
            _close(wb)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


# No cell goes through XlsxWriter's writers (``cellxml`` renders them); should one ever, it must
# not turn "=..." into a formula, a URL into a link or "00012" into a number.
OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
           "strings_to_numbers": False}


def _close(wb: Any) -> None:
    """Write the file; an OSError (disk full, file too large) comes out as itself, not
    wrapped in XlsxWriter's FileCreateError."""
    try:
        wb.close()
    except FileCreateError as exc:
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, OSError):
            raise cause from None
        raise


def _of(outcomes: list[RowOutcome], *categories: str) -> Callable[[], Iterator[RowOutcome]]:
    return lambda: (o for o in outcomes if o.outcome.category in categories)


def _failure_rows(outcomes: list[RowOutcome]) -> Iterator[cols.FailureRow]:
    for outcome in outcomes:
        if outcome.outcome.category == "invalid":
            for failure in outcome.failures or (None,):
                yield cols.FailureRow(outcome, failure)


def row_sheets(result: RunResult) -> list[RowSheet]:
    """The row sheets of this run, in workbook order (Needs review only when any)."""
    info, outcomes = result.info, result.outcomes
    counts = category_counts(outcomes)
    failures = sum(max(1, len(o.failures)) for o in outcomes if o.outcome.category == "invalid")
    execute = is_execute(info)
    on_sheet = any(o.origin.sheet is not None for o in outcomes)
    sheets = [
        RowSheet("Posted" if execute else "Would post", "posted",
                 _posted_about(info), cols.posted_columns(info, on_sheet),
                 _of(outcomes, "posted"), counts["posted"]),
        RowSheet("Skipped", "skipped", "rows not sent, with the reason in words",
                 cols.skipped_columns(info, on_sheet), _of(outcomes, "skipped"), counts["skipped"]),
        RowSheet("Errors", "failed",
                 "rows that failed: HTTP status, Chargebee's error code, param and message"
                 if execute else "rows that would fail, and why",
                 cols.error_columns(info, on_sheet), _of(outcomes, "failed"), counts["failed"]),
        RowSheet("Invalid rows", "invalid",
                 "one line per problem found in the file: row, column, value, what was expected",
                 cols.invalid_columns(info, on_sheet), lambda: _failure_rows(outcomes), failures),
    ]
    if counts["needs_review"]:
        sheets.append(RowSheet(
            "Needs review", "needs_review",
            "rows whose outcome could not be established: check them in Chargebee",
            cols.review_columns(info, on_sheet), _of(outcomes, "needs_review"),
            counts["needs_review"]))
    to_fix = counts["failed"] + counts["invalid"] + counts["needs_review"]
    sheets.append(RowSheet(
        FIX_SHEET, "failed",
        "the original rows to correct, in the file's own columns, ready to run again",
        cols.fix_columns(info.input_columns),
        _of(outcomes, "failed", "invalid", "needs_review"), to_fix))
    return sheets


def _posted_about(info: RunInfo) -> str:
    if is_execute(info):
        return "rows recorded in Chargebee, with the transaction id and invoice status after"
    return "rows that would be posted if this run were executed"
