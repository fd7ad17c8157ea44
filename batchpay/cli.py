"""The ``batchpay`` command: thin click wrappers over batchpay.api.

Library errors become ``Error: ...`` and exit code 2. Exit 1 means rows did not go through:
``validate`` found invalid rows, or an execute left rows failed, invalid, needing review or
unsent. A dry run exits 0 and says how many rows need attention. Heavy modules (pandas,
openpyxl, httpx, the sandbox) are imported inside the commands: ``--help`` and ``--version``
stay fast.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchpay import __version__
from batchpay.errors import BatchpayError

if TYPE_CHECKING:
    from batchpay.api import RunReport
    from batchpay.history import RunRecord
    from batchpay.progress import ProgressPrinter
    from batchpay.run import PlanSummary, RunOptions

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
DEFAULT_JOURNAL = Path("reports") / "batchpay-journal.sqlite"  # as batchpay.run's default
F = TypeVar("F", bound=Callable[..., Any])

# Commands imported only when used: name -> (module, attribute, one-line help for listings).
LAZY_COMMANDS = {
    "sandbox": ("batchpay.sandbox.cli", "sandbox_cli",
                "A local fake of Chargebee's API, for trying batchpay."),
    "web": ("batchpay.web.cli", "web",
            "The web application: upload, review, approve, execute."),
    "users": ("batchpay.web.cli", "users",
              "The web application's users and their roles."),
}


class _Command(click.Group):
    """Turns library errors into ``Error: ...`` with exit code 2 and no traceback; loads the
    sandbox commands only when they are used."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BatchpayError as exc:
            from batchpay.report.terminal import terminal_lines

            click.echo(f"Error: {terminal_lines(str(exc))}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            ctx.exit(130)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attribute, _ = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name=name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][2] if name in LAZY_COMMANDS
                 else self.commands[name].get_short_help_str(60))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(name="batchpay", cls=_Command,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="batchpay")
def main() -> None:
    """Turn payment spreadsheets into Chargebee API calls, safely.

    \b
    Examples (the monthly routine):
      batchpay validate jobs/bank.yaml deposits.csv  # is the file clean?
      batchpay run jobs/bank.yaml deposits.csv       # dry run: what would happen
      batchpay run jobs/bank.yaml deposits.csv --execute  # post it, exactly once
      batchpay runs                                  # what ran, when, which file

    With no site configured, runs use the built-in sandbox (no account needed).

    Exit codes: 0 done (a dry run also when rows need attention); 1 rows did not go
    through (invalid rows in validate; failed, invalid or unsent rows in an execute); 2 the
    command could not run (bad job, unreadable file, refused); 130 interrupted.

    \b
    Shell completion (bash; zsh and fish alike):
      eval "$(_BATCHPAY_COMPLETE=bash_source batchpay)"
    """


def _report_options(command: F) -> F:
    command = click.option(
        "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
        help="Write the workbook here (default: reports/<job>-<time>-<mode>.xlsx).",
    )(command)
    return click.option(
        "--reports-dir", type=click.Path(file_okay=False, path_type=Path),
        default=Path("reports"), show_default=True, help="Folder for reports.",
    )(command)


def _output_options(command: F) -> F:
    command = click.option("--json", "as_json", is_flag=True,
                           help="Print the JSON summary (as in the report's .json) on stdout.")(
        command)
    command = click.option("-v", "--verbose", is_flag=True,
                           help="Also print how long each step took.")(command)
    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress and no summary; errors and the exit code only.")(
        command)


@main.command(short_help="Check FILE against JOB: every row parsed, nothing sent.")
@click.argument("job", type=EXISTING_FILE)
@click.argument("file", type=EXISTING_FILE)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the failures alone as .csv or .xlsx.")
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
              help="Journal recording the run (default: the job's, else "
                   "reports/batchpay-journal.sqlite).")
@_report_options
@_output_options
def validate(job: Path, file: Path, output: Path | None, journal: Path | None,
             report_path: Path | None, reports_dir: Path, quiet: bool, verbose: bool,
             as_json: bool) -> None:
    """Check FILE against JOB: every row parsed and validated, nothing sent.

    Exit 0 when the file is clean, 1 when rows are invalid, 2 on a bad job spec or unreadable
    file.

    \b
    Example:
      batchpay validate samples/bank-deposits/job.yaml \\
          samples/bank-deposits/deposits.csv
    """
    from batchpay.api import write_failures
    from batchpay.run import RunOptions

    printer = _printer(quiet or as_json)
    options = RunOptions(mode="validate", journal_path=journal, on_step=printer)
    with _shown_run(job, file, options, printer, verbose, report_path, reports_dir,
                    _print_json if as_json else None if quiet else _print_validation) as report:
        if output is not None:
            write_failures(report.result, output)
            if not quiet and not as_json:
                click.echo(f"Failures written to {output}")
    _exit(report)


@main.command()
@click.argument("job", type=EXISTING_FILE)
@click.argument("file", type=EXISTING_FILE)
@click.option("--execute", is_flag=True, help="Make the calls (default: dry run, nothing sent).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation before executing.")
@click.option("--offline", is_flag=True, help="Dry run without reading the site.")
@click.option("--skip-invalid", is_flag=True,
              help="Execute the valid rows even if some are invalid.")
@click.option("--allow-live", is_flag=True, help="Allow execute on a live (non -test) site.")
@click.option("--site", help="Chargebee site name, e.g. acme-test (overrides the job).")
@click.option("--base-url", help="Explicit API base URL (http only for loopback).")
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
              help="Journal file (default: the job's, else reports/batchpay-journal.sqlite).")
@click.option("--forget-missing-journals", is_flag=True,
              help="With --execute: stop treating this site's missing journals as a reason for "
                   "review (only after checking in Chargebee what they had posted).")
@click.option("--sandbox-state", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".batchpay/sandbox.sqlite"), show_default=True,
              help="State file of the built-in sandbox.")
@click.option("--rate", "rate_per_minute", type=click.IntRange(1), help="Calls per minute.")
@click.option("--concurrency", type=click.IntRange(1, 100), help="Calls in flight at once.")
@click.option("--retry-failed", is_flag=True,
              help="Collect again the cards an earlier run saw declined (default: not retried).")
@_report_options
@_output_options
def run(job: Path, file: Path, execute: bool, yes: bool, offline: bool, skip_invalid: bool,
        allow_live: bool, site: str | None, base_url: str | None, journal: Path | None,
        forget_missing_journals: bool, sandbox_state: Path, rate_per_minute: int | None,
        concurrency: int | None, retry_failed: bool, report_path: Path | None,
        reports_dir: Path, quiet: bool, verbose: bool, as_json: bool) -> None:
    """Dry-run JOB on FILE (default), or post it with --execute.

    The API key is read from CHARGEBEE_API_KEY (or the file named by CHARGEBEE_API_KEY_FILE).
    Exit 0 when the dry run finished (rows that need attention are counted) or every executed
    row went as planned; 1 when executed rows failed, were invalid, need review or were left
    unsent; 2 when the run could not start.

    \b
    Examples:
      batchpay run samples/bank-deposits/job.yaml \\
          samples/bank-deposits/deposits.csv
      batchpay run samples/bank-deposits/job.yaml \\
          samples/bank-deposits/deposits.csv --execute --yes
    """
    if execute and offline:
        raise click.UsageError("--offline is for dry runs; --execute needs the site")
    if execute and not yes and not sys.stdin.isatty():
        raise click.UsageError("--execute asks for confirmation; without a terminal pass --yes")
    from batchpay.run import RunOptions

    printer = _printer(quiet or as_json)
    options = RunOptions(
        mode="execute" if execute else "dry-run", offline=offline, skip_invalid=skip_invalid,
        allow_live=allow_live, site=site, base_url=base_url, sandbox_state=sandbox_state,
        journal_path=journal, forget_missing_journals=forget_missing_journals,
        rate_per_minute=rate_per_minute, concurrency=concurrency,
        confirm=None if yes else partial(_confirm, printer), on_progress=printer.execute,
        on_step=printer,
        retry_failed=retry_failed,
    )
    with _shown_run(job, file, options, printer, verbose, report_path, reports_dir,
                    _print_json if as_json else None if quiet else _print_run) as report:
        pass
    _exit(report)


@main.group(cls=click.Group, invoke_without_command=True)
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
              help="Journal to read (default: the job's with --job, else "
                   "reports/batchpay-journal.sqlite).")
@click.option("--job", "job_path", type=EXISTING_FILE,
              help="Only this job's runs, from its journal.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True,
              help="At most this many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON on stdout.")
@click.pass_context
def runs(ctx: click.Context, journal: Path | None, job_path: Path | None, limit: int,
         as_json: bool) -> None:
    """Past runs from the journal, newest first.

    Each run: when, job, file and its SHA-256, mode, counts and totals per currency (money in
    and money out apart, as the run's summary gives them), and the report.

    \b
    Examples:
      batchpay runs
      batchpay runs --job samples/bank-deposits/job.yaml --json
      batchpay runs show 3
    """
    ctx.obj = _journal_for(journal, job_path)
    if ctx.invoked_subcommand is not None:
        return
    from batchpay.history import list_runs
    from batchpay.report.terminal import terminal_lines
    from batchpay.spec import load_spec

    job_name = load_spec(job_path).name if job_path else None
    records = list_runs(ctx.obj, job=job_name, limit=limit)
    if as_json:
        click.echo(json.dumps({"format": "batchpay-runs/1",
                               "runs": [_run_json(r) for r in records]}, indent=2))
        return
    if not records:
        click.echo(f"No runs recorded in {ctx.obj}.")
        return
    for record in records:
        click.echo(terminal_lines(_run_line(record)))


@runs.command(name="show")
@click.argument("run_id", metavar="RUN", type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True,
              help="Print the run's JSON summary (as in its report's .json) on stdout.")
@click.pass_obj
def show_run(journal: Path, run_id: int, as_json: bool) -> None:
    """One run's summary again, and where its report is.

    \b
    Example:
      batchpay runs show 3
    """
    from batchpay.history import get_run
    from batchpay.report.terminal import terminal_lines

    record = get_run(journal, run_id)
    if as_json:
        click.echo(json.dumps(_run_json(record), indent=2))
        return
    click.echo(terminal_lines("\n".join(_run_details(record))))


# ----------------------------------------------------------------------------- batchpay init


@main.command(name="init",
              short_help="Write a starter job spec for a bank export or statement.")
@click.argument("file", type=EXISTING_FILE, required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the job spec (default: <FILE name>.job.yaml here).")
@click.option("--currency", help="ISO 4217 code, when the file names no currency (e.g. EUR).")
@click.option("--invoice-pattern",
              help="Regex of your invoice ids, or a sample id (INV-0042 -> INV-\\d+).")
@click.option("--date-order", type=click.Choice(["DMY", "MDY"], case_sensitive=False),
              help="When no date in the file has a number above 12 to decide.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("--no-preset", is_flag=True,
              help="Infer the spec even when FILE is a known export (see --list-presets).")
@click.option("--list-presets", is_flag=True, help="List the known exports and exit.")
def init_command(file: Path | None, output: Path | None, currency: str | None,
                 invoice_pattern: str | None, date_order: str | None, force: bool,
                 no_preset: bool, list_presets: bool) -> None:
    """Sniff FILE (a bank export or statement) and write a commented starter job spec.

    A known export (--list-presets) gets its hand-checked spec. Otherwise every inferred
    choice is a comment in the spec. Then the first rows are shown as the spec reads them.
    Exit 2 when the file cannot say something (e.g. the currency): the message names the
    option to add.

    \b
    Examples:
      batchpay init export.csv -o jobs/mybank.yaml --currency EUR
      batchpay init statement.xml --invoice-pattern 'INV-\\d+'
      batchpay init --list-presets
    """
    if list_presets:
        from batchpay.presets import PRESETS

        for preset in PRESETS:
            click.echo(f"{preset.name:10} {preset.description}; recognised by "
                       f"{preset.recognised_by()}")
        return
    if file is None:
        raise click.UsageError("give the FILE to sniff (or --list-presets)")
    from batchpay.api import write_starter_spec
    from batchpay.init import preview as init_preview
    from batchpay.report import terminal_safe

    output = output or Path(f"{file.stem}.job.yaml")
    result = write_starter_spec(file, output, currency=currency, overwrite=force,
                                invoice_pattern=invoice_pattern, date_order=date_order,
                                presets=not no_preset)
    click.echo(f"Wrote {output} ({result.format}); the first rows as it reads them:\n")
    for line in init_preview(result).splitlines():
        click.echo(terminal_safe(line))
    for note in result.prepared.table.dropped_notes()[:5]:
        click.echo(f"  note: {terminal_safe(note)}")
    click.echo(f"\nNext: check the comments in {output}, then: batchpay validate {output} {file}")


# -- output --------------------------------------------------------------------------------


def _printer(quiet: bool) -> ProgressPrinter:
    from batchpay.progress import ProgressPrinter

    return ProgressPrinter(sys.stderr, quiet=quiet)


@contextmanager
def _shown_run(job: Path, file: Path, options: RunOptions, printer: ProgressPrinter,
               verbose: bool, report_path: Path | None, reports_dir: Path,
               show: Callable[[RunReport], None] | None) -> Iterator[RunReport]:
    """Run and report JOB on FILE, show the result; the caller's block runs inside the job's
    declared currencies too (what is shown of the run names them)."""
    from batchpay.api import run_and_report
    from batchpay.spec import job_currencies

    with job_currencies(job):
        report = _with_progress(printer, verbose, lambda: run_and_report(
            job, file, options, report_path, reports_dir))
        if show is not None:
            show(report)
        yield report


def _with_progress(printer: ProgressPrinter, verbose: bool,
                   work: Callable[[], RunReport]) -> RunReport:
    failed = True
    try:
        report = work()
        failed = False
        if report.history_error:
            click.echo(f"Warning: this run is not in the history: {report.history_error}",
                       err=True)
        return report
    finally:
        printer.close(failed=failed)
        if verbose:
            steps = ", ".join(f"{name} {seconds:.1f} s" + (f" ({detail})" if detail else "")
                              for name, seconds, detail in printer.timings)
            click.echo(f"Steps: {steps or 'none'}", err=True)


def _exit(report: RunReport) -> None:
    """The run's exit code, or 2 with an ``Error:`` line when its report could not be written
    (the line says where its results went instead)."""
    from batchpay.api import exit_code
    from batchpay.report.terminal import terminal_lines

    if report.problem:
        click.echo(f"Error: {terminal_lines(report.problem)}", err=True)
        sys.exit(2)
    sys.exit(exit_code(report.result))


def _print_json(report: RunReport) -> None:
    click.echo(json.dumps({**report.summary, "report": str(report.path),
                           "run_id": report.run_id}, indent=2))


def _print_run(report: RunReport) -> None:
    from batchpay.api import needs_attention
    from batchpay.report import terminal_summary

    click.echo(terminal_summary(report.result, None if report.problem else report.path,
                                color=_colour()))
    attention = needs_attention(report.result)
    if report.result.info.mode == "dry-run" and attention:
        rows = "row needs" if attention == 1 else "rows need"
        click.echo(f"{attention:,} {rows} your attention before you execute (listed above).")


def _print_validation(report: RunReport) -> None:
    """The summary, then the failing cells one per line (validation has no other problems)."""
    from batchpay.report import terminal_safe, terminal_summary

    click.echo(terminal_summary(report.result, None if report.problem else report.path,
                                rows_to_look_at=False, color=_colour()))
    failures = [f for o in report.result.outcomes for f in o.failures]
    for failure in failures[:10]:
        click.echo(f"  {terminal_safe(str(failure))}")
    if len(failures) > 10:
        click.echo(f"  ... and {len(failures) - 10} more (see the report)")


def _colour() -> bool:
    """Colours on a terminal only, and never when ``NO_COLOR`` is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def confirmation_lines(summary: PlanSummary) -> list[str]:
    """The plan, one fact per line: at any terminal width no line breaks inside a number."""
    from batchpay.money import format_amount

    lines = [f"About to send {summary.calls:,} call(s) for {summary.rows:,} row(s) to:",
             f"  {summary.target}"]
    lines += [f"  {format_amount(v, c)} {c}" for c, v in sorted(summary.totals.items())]
    if not summary.totals:
        lines.append("  no amounts")
    lines.append(f"Skipped: {summary.skipped:,}, failing: {summary.failing:,}, "
                 f"invalid: {summary.invalid:,}.")
    return lines


def _confirm(printer: ProgressPrinter, summary: PlanSummary) -> bool:
    printer.end_step()  # the check step's line is finished: no redraw over the question
    for line in confirmation_lines(summary):
        click.echo(line, err=True)
    return click.confirm("Post these now?", default=False, err=True)


# -- run history ---------------------------------------------------------------------------


def _journal_for(journal: Path | None, job_path: Path | None) -> Path:
    if journal is not None:
        return journal
    if job_path is not None:
        from batchpay.spec import load_spec

        spec = load_spec(job_path)
        return Path(spec.journal) if spec.journal else DEFAULT_JOURNAL
    return DEFAULT_JOURNAL


def _run_json(record: RunRecord) -> dict[str, Any]:
    return {**record.summary, "run_id": record.id, "report": record.report_path,
            "input_path": record.input_path, "exit_code": record.exit_code}


# The run's own summary's words (batchpay.report.terminal): money going out that was skipped
# is kept apart from the money coming in, never netted into "read".
READ_IN, OUTGOING = "read (money in)", "money out, skipped"
NO_BREAK = "\xa0"  # textwrap breaks at ASCII spaces only


def _amount(total: dict[str, Any], currency: str) -> str:
    """An exact amount with thousands separators, as the run's summary prints it."""
    return f"{Decimal(total['amount']):,} {currency}"


def _money_out(record: RunRecord) -> list[tuple[str, dict[str, Any]]]:
    """(currency, totals) of the skipped debits; none in a run recorded before they were
    kept apart."""
    return [(t["currency"], t["money_out"]) for t in record.summary.get("control_totals", [])
            if t.get("money_out", {}).get("count")]


def _read_label(record: RunRecord) -> str:
    return READ_IN if _money_out(record) else "read"


def _totals(record: RunRecord) -> str:
    parts = [_amount(t["read"], t["currency"]) for t in record.summary.get("control_totals", [])
             if t["read"]["amount"] is not None and t["read"]["count"]]
    return ", ".join(parts) or "no amounts"


def _counts(record: RunRecord) -> str:
    return "; ".join(", ".join(group) for group in _count_groups(record) if group)


def _count_groups(record: RunRecord) -> list[list[str]]:
    """Rows per category of the money coming in, then the rows of money out (skipped)."""
    counts = dict(record.summary.get("counts", {}))
    out = sum(total["count"] for _, total in _money_out(record))
    counts["skipped"] = counts.get("skipped", 0) - out
    words = {} if record.mode == "execute" else _PREDICTED_WORDS
    groups = [[f"{n:,} {words.get(name, name.replace('_', ' '))}"
               for name, n in counts.items() if n]]
    if out:
        groups.append([f"{out:,} {OUTGOING}"])
    return groups if any(groups) else [["no rows"]]


# as the run's summary words them (report.words.category_label): only an execute posts
_PREDICTED_WORDS = {"posted": "would post", "failed": "would fail"}


def _run_line(record: RunRecord) -> str:
    width = min(shutil.get_terminal_size((100, 20)).columns, 120)
    head = (f"#{record.id}  {record.started_at[:19].replace('T', ' ')}  {record.mode}  "
            f"{record.job}  {Path(record.input_path).name}  "
            f"{_unbroken('sha256 ' + record.input_sha256[:12])}")
    lines = textwrap.wrap(head, width, subsequent_indent="    ")
    texts = [_counts(record), f"{_read_label(record)}: {_unbroken(_totals(record))}"]
    out = [_amount(total, currency) if total["amount"] is not None
           else f"{total['count']:,} of unknown currency" for currency, total in _money_out(record)]
    if out:
        texts.append(f"{OUTGOING}: {_unbroken(', '.join(out))}")
    texts.append(f"report: {record.report_path}")
    for text in texts:
        lines += textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="      ",
                               break_on_hyphens=False)
    return "\n".join(line.replace(NO_BREAK, " ") for line in lines)


def _unbroken(text: str) -> str:
    """``text`` wrapped only after its commas: never between an amount and its currency."""
    return text.replace(" ", NO_BREAK).replace(f",{NO_BREAK}", ", ")


def _run_details(record: RunRecord) -> list[str]:
    s, info = record.summary, record.summary["info"]
    lines = [f"Run #{record.id}: {info['mode']} of {info['input_name']} (job {info['job_name']})",
             f"  started   {info['started_at']}",
             f"  finished  {info['finished_at']}",
             f"  file      {record.input_path}",
             f"  sha256    {record.input_sha256}",
             f"  target    {info['target']} (API {info['api_version']})",
             f"  operator  {info['operator']}",
             *_wrap_detail("  rows      ", _count_groups(record)),
             f"  exit code {record.exit_code}"]
    read_label = _read_label(record)
    words = {} if record.mode == "execute" else _PREDICTED_WORDS
    for t in s.get("control_totals", []):
        groups = [[f"{read_label} {_count_amount(t['read'])}"],
                  [f"{words.get(name, name.replace('_', ' '))} {_count_amount(v)}"
                   for name, v in t["by_category"].items() if v["count"]]]
        if t.get("money_out", {}).get("count"):
            groups.append([f"{OUTGOING} {_count_amount(t['money_out'])}"])
        currency = "unknown" if t["currency"] == "?" else t["currency"]
        lines += _wrap_detail(f"  {currency:<9} ", groups)
    lines.append(f"  balanced  {'yes' if s.get('balanced') else 'NO'}")
    lines.append(f"Report: {record.report_path}")
    return lines


def _count_amount(total: dict[str, Any]) -> str:
    amount = f" = {Decimal(total['amount']):,}" if total["amount"] is not None else ""
    return f"{total['count']:,}{amount}"


def _wrap_detail(head: str, groups: list[list[str]]) -> list[str]:
    """A line of ``runs show``: groups apart by ``;``, their parts by ``,``; cut at 80 columns
    between parts (never inside a count and its amount), continued under its value."""
    text = head + "; ".join(", ".join(part.replace(" ", NO_BREAK) for part in group)
                            for group in groups if group)
    lines = textwrap.wrap(text, 80, subsequent_indent=" " * len(head), break_on_hyphens=False,
                          break_long_words=False)
    return [line.replace(NO_BREAK, " ") for line in lines]


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
