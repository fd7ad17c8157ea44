"""Plain-English words for a run: labels per mode and the one-paragraph story."""

from __future__ import annotations

from collections.abc import Sequence

from batchpay.fixsheet import FIX_SHEET
from batchpay.records import CATEGORIES, RunInfo, RunResult

from .amounts import UNKNOWN_CURRENCY, format_minor
from .totals import CurrencyTotals, category_counts


def is_execute(info: RunInfo) -> bool:
    return info.mode == "execute"


def category_label(category: str, info: RunInfo) -> str:
    """``posted`` / ``would post``, ``failed`` / ``would fail``, ``needs review``..."""
    if not is_execute(info) and category in ("posted", "failed"):
        return {"posted": "would post", "failed": "would fail"}[category]
    return category.replace("_", " ")


def balance_equation(info: RunInfo) -> str:
    """``read = posted + skipped + failed + invalid + needs review`` in the run's words."""
    return "read = " + " + ".join(category_label(c, info) for c in CATEGORIES)


def mode_banner(info: RunInfo) -> str:
    if is_execute(info):
        return "EXECUTE: the rows marked posted were sent to Chargebee and recorded there."
    if info.mode == "dry-run":
        return "DRY RUN: nothing was sent to Chargebee; this shows what an execute would do."
    return "VALIDATION ONLY: the file was checked; nothing was sent to Chargebee."


def rows_check(result: RunResult) -> tuple[bool, str]:
    """Does the report hold every row the file had? ``(ok, explanation)``."""
    read, reported = result.info.rows_read, len(result.outcomes)
    if read == reported:
        return True, f"OK: all {_n(read, 'row')} read are in this report"
    return False, f"MISMATCH: {_n(read, 'row')} read, but {reported} in this report"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _amounts(totals: Sequence[CurrencyTotals], category: str) -> str:
    shown = [
        f"{t.currency} {format_minor(t.by_category[category].amount_minor, t.currency)}"
        for t in totals
        if t.currency != UNKNOWN_CURRENCY and t.by_category[category].count
    ]
    return f" ({_join(shown)})" if shown else ""


def _opening(info: RunInfo, count: int) -> str:
    what = f'{_n(count, "row")} from the file "{info.input_name}" (job "{info.job_name}")'
    when = info.started_at.strftime("%Y-%m-%d at %H:%M")
    if is_execute(info):
        return (f"On {when} batchpay read {what} "
                f"and sent the valid rows to Chargebee: {info.target}.")
    if info.mode == "dry-run":
        return (f"On {when} batchpay read {what} and checked them in a dry run against "
                f"{info.target}: nothing was sent to Chargebee and nothing was recorded there.")
    return (f"On {when} batchpay read and checked {what}; "
            "nothing was sent to Chargebee and nothing was recorded there.")


def _outcomes(info: RunInfo, totals: Sequence[CurrencyTotals], counts: dict[str, int]) -> str:
    if is_execute(info):
        phrases = {
            "posted": "posted to Chargebee" + _amounts(totals, "posted"),
            "skipped": "skipped and not sent (reasons on the Skipped sheet)",
            "failed": "failed (Chargebee's answer is on the Errors sheet)",
        }
    else:
        phrases = {
            "posted": "would be posted" + _amounts(totals, "posted"),
            "skipped": "would be skipped (reasons on the Skipped sheet)",
            "failed": "would fail (see the Errors sheet)",
        }
    phrases["invalid"] = "invalid in the file and never sent (see Invalid rows)"
    phrases["needs_review"] = ("needing review (the outcome could not be established: check "
                               "in Chargebee before sending again)")
    parts = [f"{_n(counts[c], 'row')} {phrases[c]}" for c in CATEGORIES
             if counts[c] or c == "posted"]
    return f"Of these, {_join(parts)}."


def _balance(info: RunInfo, totals: Sequence[CurrencyTotals]) -> str:
    wrong = [t.currency for t in totals if not t.balanced]
    if not wrong:
        return ("The control totals balance: every row read is counted exactly once, "
                "in rows and in amount, per currency.")
    return (f"WARNING: the control totals do not balance for {_join(wrong)} "
            f"({balance_equation(info)} fails); do not rely on this report.")


def _fix(counts: dict[str, int]) -> str:
    to_fix = counts["failed"] + counts["invalid"] + counts["needs_review"]
    if not to_fix:
        return "No row needs fixing."
    return (f'The {_n(to_fix, "row")} to fix are on the "{FIX_SHEET}" sheet in the '
            "file's own columns: correct them there and give that sheet to batchpay again.")


def story(result: RunResult, totals: Sequence[CurrencyTotals]) -> str:
    """What happened, in a paragraph someone who never saw batchpay can follow."""
    counts = category_counts(result.outcomes)
    sentences = [_opening(result.info, len(result.outcomes)),
                 _outcomes(result.info, totals, counts),
                 _balance(result.info, totals), _fix(counts)]
    ok, text = rows_check(result)
    if not ok:
        sentences.append(f"WARNING: {text}.")
    return " ".join(sentences)
