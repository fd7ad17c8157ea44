"""The short plain-text table printed after a run: control totals and the report path."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from batchpay.records import CATEGORIES, RowOutcome, RunResult

from .amounts import UNKNOWN_CURRENCY, format_minor
from .totals import CurrencyTotals, Totals, control_totals
from .words import balance_equation, category_label, rows_check

LABEL, COUNT, AMOUNT = 14, 7, 17
ATTENTION = ("failed", "invalid", "needs_review")
MAX_REASONS, MAX_REASON_CHARS, WIDTH = 5, 300, 98
MAX_NOTES = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
PER_BLOCK = 3  # currencies side by side: 14 + 3 * (2 + 7 + 2 + 17) = 98 columns


def terminal_summary(
    result: RunResult, report_path: Path | None, *, rows_to_look_at: bool = True
) -> str:
    """Control totals per currency and per outcome, the balance check, the rows to look at
    (unless the caller lists them its own way) and the report path."""
    info = result.info
    totals = control_totals(result.outcomes)
    title = {"dry-run": "Dry run", "execute": "Execute", "validate": "Validation"}
    lines = [f'{title.get(info.mode, info.mode)} of "{info.input_name}" (job "{info.job_name}"): '
             f"{len(result.outcomes):,} rows"]
    if not totals:
        lines.append("No rows were read.")
    for start in range(0, len(totals), PER_BLOCK):
        lines += ["", *_block(result, totals[start : start + PER_BLOCK])]
    lines.append("")
    unbalanced = [t.currency for t in totals if not t.balanced]
    ok, rows_text = rows_check(result)
    if unbalanced:
        lines.append(f"MISMATCH: {balance_equation(info)} fails for {', '.join(unbalanced)}")
    else:
        lines.append(f"Balance check OK: {balance_equation(info)}")
    if not ok:
        lines.append(rows_text)
    lines += _notes(result)
    if rows_to_look_at:
        lines += _attention(result)
    lines.append(f"Report: {report_path}" if report_path else "Report: not written")
    return "\n".join(lines)


def _attention(result: RunResult) -> list[str]:
    """The rows to look at, grouped by identical reason, most frequent first (at most
    ``MAX_REASONS`` groups): enough to act on without opening the workbook."""
    groups: dict[tuple[str, str], list[RowOutcome]] = {}
    for outcome in result.outcomes:
        category = outcome.outcome.category
        if category in ATTENTION:
            groups.setdefault((category, _reason(outcome)), []).append(outcome)
    if not groups:
        return []
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))  # stable: file order ties
    lines = ["", "To look at (every row is on the workbook's Errors, Invalid rows and Needs",
             "review sheets):"]
    for (category, reason), rows in ordered[:MAX_REASONS]:
        first = rows[0].origin
        where = str(first) if len(rows) == 1 else f"{len(rows):,} rows from {first}"
        text = f"{category_label(category, result.info)}: {where}: {terminal_safe(reason)}"
        lines += textwrap.wrap(text, WIDTH, initial_indent="  ", subsequent_indent="      ")
    rest = sum(len(rows) for _, rows in ordered[MAX_REASONS:])
    if rest:
        lines.append(f"  ... and {rest:,} more {'row' if rest == 1 else 'rows'} for other reasons")
    return lines


def _notes(result: RunResult) -> list[str]:
    """The run's notes (target, offline, rows dropped as footer or markers, Ctrl-C)."""
    notes = result.info.notes
    if not notes:
        return []
    lines = ["", "Notes:"]
    for note in notes[:MAX_NOTES]:
        lines += textwrap.wrap(terminal_safe(note), WIDTH, initial_indent="  ",
                               subsequent_indent="    ")
    if len(notes) > MAX_NOTES:
        lines.append(f"  ... and {len(notes) - MAX_NOTES} more on the workbook's Summary sheet")
    return lines


def _reason(outcome: RowOutcome) -> str:
    """Why a row needs a look, without its line number, so that alike rows group together."""
    if not outcome.failures:
        return outcome.reason
    return "; ".join(str(f).removeprefix(f"{f.origin}, ") for f in outcome.failures)


def terminal_safe(text: str) -> str:
    """Input text made safe for a terminal (no escape sequences) and cut to one line."""
    text = _CONTROL.sub("?", text) or "(no reason given)"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _block(result: RunResult, totals: Sequence[CurrencyTotals]) -> list[str]:
    def row(label: str, cells: list[tuple[str, str]]) -> str:
        body = "".join(f"  {n:>{COUNT}}  {a:>{AMOUNT}}" for n, a in cells)
        return f"{label:<{LABEL}}{body}".rstrip()

    names = [("unknown" if t.currency == UNKNOWN_CURRENCY else t.currency, "") for t in totals]
    lines = [row("", names), row("", [("rows", "amount")] * len(totals))]
    lines.append(row("read", [_cells(t.read, t.currency) for t in totals]))
    for name in CATEGORIES:
        label = category_label(name, result.info)
        lines.append(row(label, [_cells(t.by_category[name], t.currency) for t in totals]))
    checks = [_check(t) for t in totals]
    lines.append(row("check", checks))
    return lines


def _cells(totals: Totals, currency: str) -> tuple[str, str]:
    amount = "" if currency == UNKNOWN_CURRENCY else format_minor(totals.amount_minor, currency)
    return f"{totals.count:,}", amount


def _check(totals: CurrencyTotals) -> tuple[str, str]:
    rows = "OK" if totals.read.count == totals.outcomes_total.count else "MISMATCH"
    if totals.currency == UNKNOWN_CURRENCY:
        return rows, ""
    amounts_ok = totals.read.amount_minor == totals.outcomes_total.amount_minor
    return rows, "OK" if amounts_ok else "MISMATCH"
