"""The JSON summary beside the workbook, for automation: run facts, counts, control totals.

Amounts are given twice, never as floats: integer minor units and an exact decimal string.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from batchpay.records import CATEGORIES, RowOutcome, RunInfo, RunResult

from .amounts import UNKNOWN_CURRENCY, to_decimal
from .totals import CurrencyTotals, Totals, category_counts, control_totals, is_outgoing_skip

FORMAT = "batchpay-report-summary/1"


def write_summary_json(
    result: RunResult, path: Path, summary: dict[str, Any] | None = None
) -> Path:
    """Write the summary (``summary_dict(result)`` unless given) to ``path`` with the suffix
    ``.json`` (same stem); return that path."""
    target = Path(path).with_suffix(".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary or summary_dict(result), indent=2)
    target.write_text(text + "\n", encoding="utf-8")
    return target


def write_rescue_json(result: RunResult, candidates: list[Path], problem: str) -> Path | None:
    """The summary plus one line per row, to the first of ``candidates`` that can be written
    (owner-only): what is left when the workbook cannot be. None if none could."""
    data = {**summary_dict(result), "report_problem": problem,
            "rows": [_row(outcome) for outcome in result.outcomes]}
    text = json.dumps(data, indent=1, default=str) + "\n"
    for path in candidates:
        try:
            _write_whole(path, text)
            return path
        except OSError:
            continue
    return None


def _write_whole(path: Path, text: str) -> None:
    """``text`` to ``path`` (owner-only) through a temporary sibling: a write failing half-way
    (disk full) leaves no truncated file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _row(o: RowOutcome) -> dict[str, Any]:
    """The facts that identify a row and what happened to it; no raw cells (a rescue file must
    stay small)."""
    return {"row": o.origin.row, "sheet": o.origin.sheet, "outcome": o.outcome.value,
            "action": o.action, "invoice_id": o.invoice_id, "customer_id": o.customer_id,
            "currency": o.currency, "amount_minor": o.amount_minor,
            "transaction_id": o.transaction_id, "idempotency_key": o.idempotency_key,
            "reason": o.reason}


def summary_dict(result: RunResult) -> dict[str, Any]:
    totals = _money_in_and_out(result.outcomes)
    rows_ok = result.info.rows_read == len(result.outcomes)
    return {
        "format": FORMAT,
        "info": _info(result.info),
        "rows_check": {"ok": rows_ok, "rows_read": result.info.rows_read,
                       "rows_reported": len(result.outcomes)},
        "counts": category_counts(result.outcomes),
        "outcomes": dict(sorted(Counter(o.outcome.value for o in result.outcomes).items())),
        "control_totals": totals,
        "balanced": rows_ok and all(t["balanced"] for t in totals),
    }


def _money_in_and_out(outcomes: Sequence[RowOutcome]) -> list[dict[str, Any]]:
    """Per currency, as the terminal summary and the Summary sheet give them: ``read`` and
    ``by_category`` count the money coming in; ``money_out`` the rows of money going out
    (debits) that were skipped, never netted into it."""
    incoming: list[RowOutcome] = []
    outgoing: list[RowOutcome] = []
    for outcome in outcomes:
        (outgoing if is_outgoing_skip(outcome) else incoming).append(outcome)
    money_in = {t.currency: t for t in control_totals(incoming)}
    money_out = {t.currency: t for t in control_totals(outgoing)}
    currencies = sorted(money_in.keys() | money_out.keys(),
                        key=lambda c: (c == UNKNOWN_CURRENCY, c))
    return [_currency(money_in.get(c) or CurrencyTotals(c, Totals(), {}), money_out.get(c))
            for c in currencies]


def _info(info: RunInfo) -> dict[str, Any]:
    return {
        "job_name": info.job_name,
        "input_name": info.input_name,
        "input_sha256": info.input_sha256,
        "mode": info.mode,
        "target": info.target,
        "api_version": info.api_version,
        "batchpay_version": info.batchpay_version,
        "started_at": info.started_at.isoformat(),
        "finished_at": info.finished_at.isoformat(),
        "operator": info.operator,
        "rows_read": info.rows_read,
        "notes": list(info.notes),
    }


def _currency(t: CurrencyTotals, out: CurrencyTotals | None) -> dict[str, Any]:
    return {
        "currency": t.currency,
        "balanced": t.balanced and (out is None or out.balanced),
        "read": _totals(t.read, t.currency),
        "by_category": {name: _totals(t.by_category.get(name, Totals()), t.currency)
                        for name in CATEGORIES},
        "money_out": _totals(out.read if out else Totals(), t.currency),
    }


def _totals(totals: Totals, currency: str) -> dict[str, Any]:
    if currency == UNKNOWN_CURRENCY:
        return {"count": totals.count, "amount_minor": None, "amount": None}
    return {"count": totals.count, "amount_minor": totals.amount_minor,
            "amount": str(to_decimal(totals.amount_minor, currency))}
