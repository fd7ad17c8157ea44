"""The short plain-text summary printed after a run: control totals per currency, the reasons
rows were skipped or need a look, and the report path. Fits an 80-column terminal."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from batchpay.fixsheet import FIX_SHEET
from batchpay.records import CATEGORIES, RowOutcome, RunResult

from .amounts import UNKNOWN_CURRENCY, format_minor
from .totals import CurrencyTotals, Totals, control_totals, is_outgoing_skip
from .words import balance_equation, category_label, rows_check

WIDTH = 80
GAP = 2  # spaces before each number column
ATTENTION = ("failed", "invalid", "needs_review")
SHEETS = {"failed": "Errors", "invalid": "Invalid rows", "needs_review": "Needs review"}
MAX_REASONS, MAX_REASON_CHARS = 5, 300
MAX_NOTES = 8
READ_IN, OUTGOING = "read (money in)", "money out, skipped"
PREDICTED = "predicted by batchpay, not sent: "  # batchpay.run.PREDICTED, in the reason
# C0/C1 controls (ESC starts escape sequences, BEL rings), bidi overrides and isolates (U+202E
# shows text reversed), line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_COLOURS = {"green": "32", "red": "31", "yellow": "33"}
_ATTENTION_COLOURS = {"failed": "red", "invalid": "yellow", "needs_review": "yellow"}


def terminal_summary(
    result: RunResult, report_path: Path | None, *, rows_to_look_at: bool = True,
    color: bool = False,
) -> str:
    """Control totals per currency and per outcome, the balance check, skip reasons, the rows
    to look at (unless the caller lists them its own way) and the report path. ``color`` adds
    ANSI colours to OK / MISMATCH and the outcome labels (for a terminal that wants them)."""
    info = result.info
    incoming = [o for o in result.outcomes if not is_outgoing_skip(o)]
    outgoing = [o for o in result.outcomes if is_outgoing_skip(o)]
    title = {"dry-run": "Dry run", "execute": "Execute", "validate": "Validation"}
    lines = _wrap(f'{title.get(info.mode, info.mode)} of "{terminal_safe(info.input_name)}" '
                  f'(job "{terminal_safe(info.job_name)}"): {_n(len(result.outcomes), "row")}')
    if not result.outcomes:
        lines.append("No rows were read.")
    lines += _table(result, control_totals(incoming), control_totals(outgoing))
    lines += ["", *_balance(result, color)]
    lines += _notes(result)
    lines += _skipped(result, color)
    if rows_to_look_at:
        lines += _attention(result, color)
    lines.append(f"Report: {report_path}" if report_path else "Report: not written")
    return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _wrap(text: str, indent: str = "", more: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=more,
                         break_on_hyphens=False)


def paint(text: str, colour: str, on: bool) -> str:
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if on else text


# --- the table ------------------------------------------------------------------------------


def _table(
    result: RunResult, totals: Sequence[CurrencyTotals], outgoing: Sequence[CurrencyTotals]
) -> list[str]:
    """One block of lines per group of currencies that fits the width side by side."""
    money_out = {t.currency: t.read for t in outgoing}
    currencies = [t.currency for t in totals]
    currencies += [c for c in money_out if c not in currencies]
    by_currency = {t.currency: t for t in totals}
    labels = ["read", *(category_label(c, result.info) for c in CATEGORIES)]
    if money_out:
        labels = [READ_IN, *labels[1:], OUTGOING]
    columns = [_column(c, by_currency.get(c), money_out.get(c, Totals()) if money_out else None)
               for c in currencies]
    label_width = max(len(label) for label in labels)
    lines: list[str] = []
    for block in _blocks(columns, WIDTH - label_width):
        lines.append("")
        for index in range(len(block[0][0])):
            cells = "".join(_cell(column, index) for column in block)
            label = labels[index - 2] if index >= 2 else ""
            lines.append(f"{label:<{label_width}}{cells}".rstrip())
    return lines


Column = tuple[list[tuple[str, str]], int, int]  # (count, amount) per line, their widths


def _column(currency: str, totals: CurrencyTotals | None, money_out: Totals | None) -> Column:
    name = "unknown" if currency == UNKNOWN_CURRENCY else currency
    parts = [("", name), ("rows", "amount")]
    totals = totals or CurrencyTotals(currency, Totals(), {})
    parts.append(_cells(totals.read, currency))
    parts += [_cells(totals.by_category.get(c, Totals()), currency) for c in CATEGORIES]
    if money_out is not None:
        parts.append(_cells(money_out, currency))
    return parts, max(len(n) for n, _ in parts), max(len(a) for _, a in parts)


def _cell(column: Column, index: int) -> str:
    parts, count_width, amount_width = column
    count, amount = parts[index] if index < len(parts) else ("", "")
    return f"{'':{GAP}}{count:>{count_width}}{'':{GAP}}{amount:>{amount_width}}"


def _blocks(columns: Sequence[Column], room: int) -> Iterable[list[Column]]:
    block: list[Column] = []
    used = 0
    for column in columns:
        width = 2 * GAP + column[1] + column[2]
        if block and used + width > room:
            yield block
            block, used = [], 0
        block.append(column)
        used += width
    if block:
        yield block


def _cells(totals: Totals, currency: str) -> tuple[str, str]:
    amount = "" if currency == UNKNOWN_CURRENCY else format_minor(totals.amount_minor, currency)
    return f"{totals.count:,}", amount


# --- the words under it ---------------------------------------------------------------------


def _balance(result: RunResult, color: bool) -> list[str]:
    totals = control_totals(result.outcomes)
    unbalanced = [t.currency for t in totals if not t.balanced]
    equation = balance_equation(result.info)
    if unbalanced:
        lines = _painted(_wrap(f"MISMATCH: the totals do not add up for "
                               f"{', '.join(unbalanced)} ({equation} fails)"), "red", color)
    else:
        lines = _painted(_wrap(f"Totals balance: every row is counted once, in rows and in "
                               f"amount ({equation})."), "green", color)
    ok, rows_text = rows_check(result)
    if not ok:
        lines += _painted(_wrap(rows_text), "red", color)
    return lines


def _painted(lines: list[str], colour: str, on: bool) -> list[str]:
    """The first line's words up to its colon in ``colour`` (after wrapping, so that the
    escape sequences do not count as width)."""
    if on and lines:
        head, colon, rest = lines[0].partition(":")
        lines[0] = paint(head, colour, True) + colon + rest
    return lines


def _grouped(
    outcomes: Iterable[RowOutcome], categories: Sequence[str], dry: bool = False
) -> list[tuple[tuple[str, str], list[RowOutcome]]]:
    """Rows of ``categories`` grouped by identical reason, most frequent first (ties: in
    file order). In a dry run "would fail" already says the failure is predicted."""
    groups: dict[tuple[str, str], list[RowOutcome]] = {}
    for outcome in outcomes:
        category = outcome.outcome.category
        if category in categories:
            reason = _reason(outcome)
            if dry:
                reason = reason.removeprefix(PREDICTED)
            groups.setdefault((category, reason), []).append(outcome)
    return sorted(groups.items(), key=lambda item: -len(item[1]))


def _group_lines(
    ordered: Sequence[tuple[tuple[str, str], list[RowOutcome]]],
    label: Callable[[str], str], color: bool,
) -> list[str]:
    lines: list[str] = []
    for (category, reason), rows in ordered[:MAX_REASONS]:
        first = rows[0].origin
        where = str(first) if len(rows) == 1 else f"{len(rows):,} rows from {first}"
        text = f"{label(category)}{where}: {terminal_safe(reason)}"
        wrapped = _wrap(text, "  ", "      ")
        if label(category):
            indent, lead = wrapped[0][:2], wrapped[0][2:]
            colour = _ATTENTION_COLOURS[category]
            wrapped[0] = indent + _painted([lead], colour, color)[0]
        lines += wrapped
    rest = sum(len(rows) for _, rows in ordered[MAX_REASONS:])
    if rest:
        lines.append(f"  ... and {rest:,} more {'row' if rest == 1 else 'rows'} "
                     "for other reasons")
    return lines


def _skipped(result: RunResult, color: bool) -> list[str]:
    ordered = _grouped(result.outcomes, ("skipped",))
    if not ordered:
        return []
    verb = "Skipped" if result.info.mode == "execute" else "Would be skipped"
    head = f"{verb}, not sent (all on the workbook's Skipped sheet):"
    return ["", *_wrap(head), *_group_lines(ordered, lambda _: "", color)]


def _attention(result: RunResult, color: bool) -> list[str]:
    """The rows to look at, grouped by identical reason, most frequent first (at most
    ``MAX_REASONS`` groups): enough to act on without opening the workbook."""
    ordered = _grouped(result.outcomes, ATTENTION, dry=result.info.mode != "execute")
    if not ordered:
        return []
    present = [c for c in ATTENTION if any(category == c for (category, _), _ in ordered)]
    sheets = [SHEETS[c] for c in present] + [FIX_SHEET]
    where = ", ".join(sheets[:-1]) + " and " + sheets[-1]
    head = f"To look at (all on the workbook's {where} sheets):"

    def label(category: str) -> str:
        return f"{category_label(category, result.info)}: "

    return ["", *_wrap(head), *_group_lines(ordered, label, color)]


def _notes(result: RunResult) -> list[str]:
    """The run's notes (target, offline, rows dropped as footer or markers, Ctrl-C)."""
    notes = result.info.notes
    if not notes:
        return []
    lines = ["", "Notes:"]
    for note in notes[:MAX_NOTES]:
        lines += _wrap(terminal_safe(note), "  ", "    ")
    if len(notes) > MAX_NOTES:
        lines.append(f"  ... and {len(notes) - MAX_NOTES} more on the workbook's Summary sheet")
    return lines


def _reason(outcome: RowOutcome) -> str:
    """Why a row needs a look, without its line number, so that alike rows group together."""
    if not outcome.failures:
        return outcome.reason
    return "; ".join(str(f).removeprefix(f"{f.origin}, ") for f in outcome.failures)


def terminal_lines(text: str) -> str:
    """Like ``terminal_safe`` but keeps line breaks and length: for ``Error:`` messages, which
    quote input (cells, headers, file names) and may list one problem per line."""
    return "\n".join(_CONTROL.sub("?", line) for line in text.split("\n"))


def terminal_safe(text: str) -> str:
    """Input text made safe for a terminal (no escape sequences) and cut to one line."""
    text = _CONTROL.sub("?", text) or "(no reason given)"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"
