"""The public library surface: everything the CLI does, callable from Python."""

from __future__ import annotations

import csv
import gc
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from batchpay.chargebee.client import base_url_for, is_test_site
from batchpay.errors import BatchpayError, InputError, RunRefused
from batchpay.history import record_run
from batchpay.init import InitResult, init_job
from batchpay.progress import announce
from batchpay.records import Outcome, RunResult
from batchpay.report import default_report_path, write_report, write_summary_json
from batchpay.report.cells import is_formula_like, safe_text
from batchpay.report.jsonout import summary_dict, write_rescue_json
from batchpay.report.totals import category_counts, control_totals
from batchpay.run import DEFAULT_JOURNAL, RunOptions, run_job
from batchpay.sitestate import default_state_dir, site_lock
from batchpay.spec import JobSpec, job_currencies, load_spec
from batchpay.target import planned_site

__all__ = [
    "InitResult", "RunOptions", "RunReport", "SiteInfo", "category_counts",
    "check_report_destination", "control_totals",
    "execute_busy", "exit_code", "journal_path", "load_spec", "needs_attention",
    "run_and_report", "site_info", "write_failures", "write_starter_spec",
]

FAILURE_HEADER = ("row", "sheet", "column", "value", "problem", "expected")
UNSUCCESSFUL = frozenset(
    {Outcome.FAILED, Outcome.WOULD_FAIL, Outcome.INVALID, Outcome.NEEDS_REVIEW}
)


@dataclass
class RunReport:
    result: RunResult
    path: Path  # the .xlsx workbook; the JSON summary sits beside it
    summary: dict[str, Any] = field(default_factory=dict)  # the JSON summary's content
    run_id: int | None = None  # in the journal's run history (``batchpay runs``)
    history_error: str | None = None  # why the run could not be recorded there (it still ran)
    # Set when the workbook could not be written after the run: why, and ``path`` is then the
    # rescue JSON (summary and one line per row) written wherever that worked.
    problem: str | None = None


# The longest file name a default report can get (a 64-character job name, the time, the mode,
# a "-NN" for runs in the same second) plus the ".<stem>-XXXXXXXX" of the temporary file.
_LONGEST_DEFAULT_NAME = "." + "x" * 100 + "-"


def run_and_report(
    spec_path: Path,
    input_path: Path,
    options: RunOptions,
    report_path: Path | None = None,
    reports_dir: Path = Path("reports"),
) -> RunReport:
    """Run the job, write its workbook and JSON summary, and record the run in the journal.

    The report's folder is checked before the run (nothing is sent when the report could not
    be written); if the workbook still fails afterwards, the results go to a rescue JSON and
    ``RunReport.problem`` says why and where.
    """
    with job_currencies(spec_path):  # the report shows the job's currencies too
        return _run_and_report(spec_path, input_path, options, report_path, reports_dir)


def _run_and_report(spec_path: Path, input_path: Path, options: RunOptions,
                    report_path: Path | None, reports_dir: Path) -> RunReport:
    check_report_destination(report_path, reports_dir)
    with _fewer_gc_passes():
        result = run_job(spec_path, input_path, options)
        path = report_path or _unused(default_report_path(
            reports_dir, result.info.job_name, result.info.mode, datetime.now(UTC)))
        announce(options.on_step, "write", f"Writing {path.name}")
        summary = summary_dict(result)
        try:
            write_report(result, path)
            write_summary_json(result, path.with_suffix(".json"), summary)
        except Exception as exc:  # after the run: whatever failed, its results must survive
            return _rescued(result, path, exc, summary)
    for written in (path, path.with_suffix(".json")):
        os.chmod(written, 0o600)  # reports hold customers' payment data: owner only
    journal = journal_path(load_spec(spec_path), options.journal_path)
    report = RunReport(result=result, path=path, summary=summary)
    try:
        report.run_id = record_run(journal, summary, input_path, path, exit_code(result))
    except BatchpayError as exc:  # the run is done and reported: a history problem is a warning
        report.history_error = str(exc)
    return report


def check_report_destination(report_path: Path | None, reports_dir: Path) -> None:
    """RunRefused unless a report can be written there: the folder exists or can be made, a
    file of the report's name (and its temporary sibling) can be created in it."""
    folder = report_path.parent if report_path is not None else reports_dir
    prefix = f".{report_path.stem}-" if report_path is not None else _LONGEST_DEFAULT_NAME
    shown = report_path if report_path is not None else reports_dir
    try:
        if report_path is not None and report_path.is_dir():
            raise RunRefused(f"cannot write the report to {shown}: it is a folder; give a file "
                             "name (nothing was sent)")
        if report_path is not None and report_path.exists() and not report_path.is_file():
            # the workbook is renamed over it when complete: a device or a FIFO would be replaced
            raise RunRefused(f"cannot write the report to {shown}: it is not a regular file; "
                             "give a file name (nothing was sent)")
        made = [p for p in (folder, *folder.parents) if not p.exists()]  # removed again below
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=prefix, suffix=".xlsx", dir=folder)
        os.close(fd)
        os.unlink(probe)
        for created in made:  # a run refused later (a bad spec) leaves nothing behind
            created.rmdir()
    except OSError as exc:
        raise RunRefused(
            f"cannot write the report to {shown}: {exc.strerror or exc}; choose another "
            f"{'--report' if report_path is not None else '--reports-dir'} (nothing was sent)"
        ) from None


def _rescued(result: RunResult, path: Path, exc: Exception, summary: dict[str, Any],
             ) -> RunReport:
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or repr(exc)
    _forget_half_written(exc)
    stem = path.with_suffix("").name[:100]
    candidates = [path.with_suffix(".json"), Path.cwd() / f"{stem}.rescue.json",
                  Path(tempfile.gettempdir()) / f"{stem}.rescue.json"]
    rescue = write_rescue_json(result, candidates, f"{path}: {why}")
    where = (f"the summary and every row's outcome are in {rescue}" if rescue is not None
             else "no rescue file could be written either; the journal holds every call's "
                  "outcome")
    problem = f"the report could not be written to {path} ({why}) after the run; {where}"
    return RunReport(result=result, path=rescue or path, summary=summary, problem=problem)


def _forget_half_written(exc: BaseException) -> None:
    """Collect the workbook that failed half-way now, quietly: openpyxl's write-only sheets are
    generators that would each print a traceback to stderr when collected later."""
    seen: BaseException | None = exc
    while seen is not None:  # the frames of the tracebacks hold the workbook
        seen.__traceback__ = None
        seen = seen.__cause__ or seen.__context__
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


_gc_lock = threading.Lock()
_runs_in_progress = 0
_thresholds_before: tuple[int, ...] = gc.get_threshold()


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """A run keeps a few objects per row alive until its report is written; with the default
    thresholds the cyclic collector rescans them all again and again as they accumulate (about
    8% of a 100k-row dry run). As mypy does, collect less often during the run."""
    global _runs_in_progress, _thresholds_before
    with _gc_lock:  # runs in several threads: the first in raises, the last out restores
        if _runs_in_progress == 0:
            _thresholds_before = gc.get_threshold()
            gc.set_threshold(200_000, 30, 30)
        _runs_in_progress += 1
    try:
        yield
    finally:
        with _gc_lock:
            _runs_in_progress -= 1
            if _runs_in_progress == 0:
                gc.set_threshold(*_thresholds_before)


def _unused(path: Path) -> Path:
    """``path``, else ``name-2.xlsx``, ``name-3.xlsx``...: runs in the same second keep both."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def exit_code(result: RunResult) -> int:
    """0 when the run did what it was asked. 1 when ``validate`` found invalid rows, or an
    execute left rows failed, invalid, needing review, or unsent (interrupted). A dry run only
    predicts: it exits 0 and says how many rows need attention (:func:`needs_attention`)."""
    if result.info.mode == "dry-run":
        return 0
    if result.info.interrupted:
        return 1
    return 1 if needs_attention(result) else 0


def needs_attention(result: RunResult) -> int:
    """Rows that failed, would fail, are invalid or need review."""
    return sum(1 for o in result.outcomes if o.outcome in UNSUCCESSFUL)


def write_failures(result: RunResult, path: Path) -> Path:
    """The validation failures alone, as .csv or .xlsx (every value written as text)."""
    rows = [
        (str(f.origin.row), f.origin.sheet or "", f.column, f.value, f.problem, f.expected)
        for outcome in result.outcomes
        for f in outcome.failures
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Failures")
        sheet.append(FAILURE_HEADER)
        for row in rows:
            sheet.append([_text_cell(sheet, value) for value in row])
        book.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(FAILURE_HEADER)
            writer.writerows([[_csv_safe(v) for v in row] for row in rows])
    os.chmod(path, 0o600)
    return path


def _csv_safe(value: str) -> str:
    """A leading apostrophe keeps a spreadsheet from reading the cell as a formula."""
    return "'" + value if is_formula_like(value) else value


def _text_cell(sheet: Any, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=safe_text(value))
    cell.data_type = "s"  # always text, even "=..." (openpyxl would otherwise store a formula)
    return cell


@dataclass(frozen=True)
class SiteInfo:
    """Where a job's calls go, known without contacting it (and without its API key)."""

    label: str
    site: str  # the identity in idempotency keys, the journal and the execute lock
    is_live: bool
    allow_live: bool


def site_info(spec: JobSpec, sandbox_state: Path) -> SiteInfo:
    """The job's target as a run would resolve it (``resolve_target``), for pages and locks."""
    name, url = spec.site.name, spec.site.base_url
    site = planned_site(spec, sandbox_state=sandbox_state)
    if name is None and url is None:
        return SiteInfo(f"built-in sandbox ({sandbox_state})", site, False,
                        spec.site.allow_live)
    full = base_url_for(site=None if url else name, base_url=url, version=spec.api_version)
    host = urlsplit(full).hostname or full
    return SiteInfo(host, site, not is_test_site(full), spec.site.allow_live)


def journal_path(spec: JobSpec, journal: Path | None = None) -> Path:
    """The journal a run of ``spec`` uses: ``journal``, else the job's, else the CLI default."""
    if journal is not None:
        return journal
    return Path(spec.journal) if spec.journal else DEFAULT_JOURNAL


def execute_busy(site: str, state_dir: Path | None = None) -> str | None:
    """Why an execute for ``site`` (its identity, e.g. from :func:`site_info`) cannot start now
    (one is running, from the CLI or the web), else None. The run itself takes the same
    per-site lock, so a race is still refused there."""
    try:
        with site_lock(state_dir or default_state_dir(), site):
            return None
    except BatchpayError as exc:
        return str(exc)
def write_starter_spec(
    input_path: Path,
    output: Path,
    *,
    currency: str | None = None,
    invoice_pattern: str | None = None,
    date_order: str | None = None,
    overwrite: bool = False,
    presets: bool = True,
) -> InitResult:
    """Sniff ``input_path``, write a commented starter job spec to ``output`` (``batchpay
    init``), and return it with the file as read by it, for a preview."""
    if output.exists() and not overwrite:
        raise InputError(f"{output} exists; choose another -o or pass --force to replace it")
    result = init_job(input_path, currency=currency, invoice_pattern=invoice_pattern,
                      date_order=date_order, presets=presets)  # fmt: skip
    try:
        output.write_text(result.spec_text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output}: cannot write the job spec ({exc.strerror or exc})") from None
    return result
