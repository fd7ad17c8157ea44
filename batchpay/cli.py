"""The ``batchpay`` command: thin click wrappers over batchpay.api.

Library errors become ``Error: ...`` and exit code 2; rows that failed or need review give 1.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from batchpay import __version__
from batchpay.api import RunReport, exit_code, run_and_report, write_failures, write_starter_spec
from batchpay.errors import BatchpayError
from batchpay.execute import Progress
from batchpay.init import preview as init_preview
from batchpay.money import format_amount
from batchpay.presets import PRESETS
from batchpay.report import terminal_lines, terminal_safe, terminal_summary
from batchpay.run import PlanSummary, RunOptions

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


class _Command(click.Group):
    """Turns library errors into ``Error: ...`` with exit code 2 and no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BatchpayError as exc:
            click.echo(f"Error: {terminal_lines(str(exc))}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Command)
@click.version_option(__version__, prog_name="batchpay")
def main() -> None:
    """Turn payment spreadsheets into Chargebee API calls, safely.

    \b
    Examples (the monthly routine):
      batchpay validate jobs/bank.yaml deposits.csv      # is the file clean?
      batchpay run jobs/bank.yaml deposits.csv           # dry run: what would happen
      batchpay run jobs/bank.yaml deposits.csv --execute # post it, exactly once

    With no site configured, runs use the built-in sandbox (no account needed).
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


@main.command()
@click.argument("job", type=EXISTING_FILE)
@click.argument("file", type=EXISTING_FILE)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the failures alone as .csv or .xlsx.")
@_report_options
def validate(job: Path, file: Path, output: Path | None, report_path: Path | None,
             reports_dir: Path) -> None:
    """Check FILE against JOB: every row parsed and validated, nothing sent.

    Exit 0 when the file is clean, 1 when rows fail, 2 on a bad job spec or unreadable file.

    \b
    Example:
      batchpay validate samples/bank-deposits/job.yaml samples/bank-deposits/deposits.csv
    """
    report = run_and_report(job, file, RunOptions(mode="validate"), report_path, reports_dir)
    _print_validation(report)
    if output is not None:
        write_failures(report.result, output)
        click.echo(f"Failures written to {output}")
    sys.exit(exit_code(report.result))


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
@click.option("--sandbox-state", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".batchpay/sandbox.sqlite"), show_default=True,
              help="State file of the built-in sandbox.")
@click.option("--rate", "rate_per_minute", type=click.IntRange(1), help="Calls per minute.")
@click.option("--concurrency", type=click.IntRange(1, 100), help="Calls in flight at once.")
@click.option("--retry-failed", is_flag=True,
              help="Collect again the cards an earlier run saw declined (default: not retried).")
@_report_options
def run(job: Path, file: Path, execute: bool, yes: bool, offline: bool, skip_invalid: bool,
        allow_live: bool, site: str | None, base_url: str | None, journal: Path | None,
        sandbox_state: Path, rate_per_minute: int | None, concurrency: int | None,
        retry_failed: bool, report_path: Path | None, reports_dir: Path) -> None:
    """Dry-run JOB on FILE (default), or post it with --execute.

    The API key is read from CHARGEBEE_API_KEY (or the file named by CHARGEBEE_API_KEY_FILE).
    Exit 0 when every row went as planned, 1 when rows failed or need review, 2 when the run
    could not start.

    \b
    Examples:
      batchpay run samples/bank-deposits/job.yaml samples/bank-deposits/deposits.csv
      batchpay run samples/bank-deposits/job.yaml samples/bank-deposits/deposits.csv --execute --yes
    """
    if execute and offline:
        raise click.UsageError("--offline is for dry runs; --execute needs the site")
    if execute and not yes and not sys.stdin.isatty():
        raise click.UsageError("--execute asks for confirmation; without a terminal pass --yes")
    options = RunOptions(
        mode="execute" if execute else "dry-run", offline=offline, skip_invalid=skip_invalid,
        allow_live=allow_live, site=site, base_url=base_url, sandbox_state=sandbox_state,
        journal_path=journal, rate_per_minute=rate_per_minute, concurrency=concurrency,
        confirm=None if yes else _confirm, on_progress=_ProgressPrinter(),
        retry_failed=retry_failed,
    )
    report = run_and_report(job, file, options, report_path, reports_dir)
    click.echo(terminal_summary(report.result, report.path, color=_colour()))
    sys.exit(exit_code(report.result))


def _print_validation(report: RunReport) -> None:
    """The summary, then the failing cells one per line (validation has no other problems)."""
    click.echo(terminal_summary(report.result, report.path, rows_to_look_at=False,
                                color=_colour()))
    failures = [f for o in report.result.outcomes for f in o.failures]
    for failure in failures[:10]:
        click.echo(f"  {terminal_safe(str(failure))}")
    if len(failures) > 10:
        click.echo(f"  ... and {len(failures) - 10} more (see the report)")


def _colour() -> bool:
    """Colours on a terminal only, and never when ``NO_COLOR`` is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _confirm(summary: PlanSummary) -> bool:
    totals = ", ".join(f"{format_amount(v, c)} {c}" for c, v in sorted(summary.totals.items()))
    click.echo(
        f"About to send {summary.calls} call(s) for {summary.rows} row(s) to {summary.target}"
        f" — {totals or 'no amounts'}. Skipped: {summary.skipped}, failing: {summary.failing},"
        f" invalid: {summary.invalid}."
    )
    return click.confirm("Post these now?", default=False)


class _ProgressPrinter:
    """A bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        finished = progress.done == progress.total
        if not finished and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = progress.done / elapsed
        eta = (progress.total - progress.done) / rate if rate else 0.0
        line = (
            f"{_bar(progress) if self.tty else ''}{progress.done}/{progress.total} done, "
            f"{progress.posted} posted, {progress.failed} failed, {progress.review} review, "
            f"{progress.retries} retries, {rate:.1f} calls/s, ETA {eta:.0f}s"
        )
        if self.tty:
            click.echo("\r" + line, err=True, nl=finished)
        else:
            click.echo(line, err=True)


def _bar(progress: Progress, width: int = 24) -> str:
    filled = int(width * progress.done / max(progress.total, 1))
    return "[" + "#" * filled + "." * (width - filled) + "] "


# ----------------------------------------------------------------------------- batchpay init


@main.command(name="init")
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
        for preset in PRESETS:
            click.echo(f"{preset.name:10} {preset.description}; recognised by "
                       f"{preset.recognised_by()}")
        return
    if file is None:
        raise click.UsageError("give the FILE to sniff (or --list-presets)")
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


def _mount_sandbox() -> None:
    from batchpay.sandbox import sandbox_cli

    main.add_command(sandbox_cli, name="sandbox")


_mount_sandbox()


def _mount_web() -> None:
    from batchpay.web.cli import users, web

    main.add_command(web)
    main.add_command(users)


_mount_web()

if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
