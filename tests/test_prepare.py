"""prepare(): read -> fields -> filters -> schema; every row ends valid, skipped or invalid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchpay.prepare import PreparedInput, prepare
from batchpay.records import Outcome
from batchpay.spec import parse_spec

FIELDS = {
    "invoice_id": {"column": "Memo", "regex": r"(INV-\d+)", "required": False},
    "amount": {"column": "Amount", "type": "money", "currency": "EUR"},
    "kind": {"column": "Type"},
}
CSV = """Type,Memo,Amount
CR,pay INV-1,10.00
DR,card,-4.50
CR,interest,0.12
CR,INV-4 again,1x
OPENING,balance,100.00
"""


def run(tmp_path: Path, filters: list[dict[str, Any]], text: str = CSV,
        fields: dict[str, Any] | None = None) -> PreparedInput:  # fmt: skip
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    action = {"type": "record_payment", "params": {
        "invoice_id": "invoice_id", "amount": "amount", "payment_method": {"const": "cash"}}}
    spec = parse_spec({"name": "t", "fields": fields or FIELDS, "filters": filters,
                       "action": action})  # fmt: skip
    return prepare(spec, path)


def verdicts(result: PreparedInput) -> dict[int, str]:
    """Line -> "valid", the skip reason, or "invalid"."""
    found = {row.origin.row: "valid" for row in result.valid}
    for outcome in result.outcomes.values():
        found[outcome.origin.row] = (
            outcome.reason if outcome.outcome is Outcome.SKIPPED else "invalid"
        )
    assert len(found) == result.rows_read  # nothing lost, nothing twice
    return dict(sorted(found.items()))


def test_without_filters_rows_are_valid_or_invalid(tmp_path: Path) -> None:
    assert verdicts(run(tmp_path, [])) == {
        2: "valid", 3: "valid", 4: "valid", 5: "invalid", 6: "valid",
    }  # fmt: skip


def test_column_filter_skips_with_its_reason(tmp_path: Path) -> None:
    rules = [{"column": "Type", "equals": "OPENING", "reason": "opening balance"}]
    assert verdicts(run(tmp_path, rules))[6] == "opening balance"


def test_keep_filter_skips_the_rest(tmp_path: Path) -> None:
    rules = [{"column": "Type", "one_of": ["CR"], "keep": True, "reason": "not a credit"}]
    assert verdicts(run(tmp_path, rules)) == {
        2: "valid", 3: "not a credit", 4: "valid", 5: "invalid", 6: "not a credit",
    }  # fmt: skip


def test_field_filters_and_the_first_reason_wins(tmp_path: Path) -> None:
    rules = [
        {"field": "amount", "le": 0, "reason": "outgoing"},
        {"field": "invoice_id", "empty": True, "reason": "no invoice"},
        {"column": "Memo", "matches": "^bal", "reason": "balance line"},
    ]
    assert verdicts(run(tmp_path, rules)) == {
        2: "valid", 3: "outgoing", 4: "no invoice", 5: "invalid", 6: "no invoice",
    }  # fmt: skip


def test_a_filter_on_an_unparsable_field_does_not_hide_the_failure(tmp_path: Path) -> None:
    result = run(tmp_path, [{"field": "amount", "le": 0, "reason": "outgoing"}])
    invalid = [o for o in result.outcomes.values() if o.outcome is Outcome.INVALID]
    assert [str(f) for o in invalid for f in o.failures] == [
        'line 5, column "Amount": "1x" is not an amount (expected decimal point, e.g. 1234.56)'
    ]


def test_a_filter_on_an_empty_required_field_skips_instead_of_invalidating(
    tmp_path: Path,
) -> None:
    fields = {**FIELDS, "invoice_id": {"column": "Memo", "regex": r"(INV-\d+)"}}
    without = run(tmp_path, [], fields=fields)
    assert verdicts(without)[3] == "invalid"
    rules = [{"field": "invoice_id", "empty": True, "reason": "no invoice"}]
    assert verdicts(run(tmp_path, rules, fields=fields)) == {
        2: "valid", 3: "no invoice", 4: "no invoice", 5: "invalid", 6: "no invoice",
    }  # fmt: skip


def test_a_proven_wrong_date_order_is_not_hidden_by_a_filter(tmp_path: Path) -> None:
    fields = {**FIELDS, "date": {"column": "Date", "type": "date", "formats": ["%m/%d/%Y"]}}
    text = "Type,Memo,Amount,Date\nDR,x,-1.00,15/01/2024\nDR,y,-2.00,01/12/2023\n"
    rules = [{"field": "amount", "le": 0, "reason": "outgoing"}]
    assert verdicts(run(tmp_path, rules, text=text, fields=fields)) == {
        2: "invalid", 3: "invalid",
    }  # fmt: skip


def test_outcomes_carry_amount_and_currency(tmp_path: Path) -> None:
    result = run(tmp_path, [{"field": "amount", "le": 0, "reason": "outgoing"}])
    skipped = next(o for o in result.outcomes.values() if o.outcome is Outcome.SKIPPED)
    assert (skipped.origin.row, skipped.amount_minor, skipped.currency) == (3, -450, "EUR")
    assert skipped.raw == {"Type": "DR", "Memo": "card", "Amount": "-4.50"}
    assert [row.fields["amount"] for row in result.valid] == [1000, 12, 10000]


@pytest.mark.parametrize("size", [1, 50])
def test_nothing_lost(tmp_path: Path, size: int) -> None:
    body = "".join(CSV.splitlines(keepends=True)[1:]) * size
    result = run(tmp_path, [{"field": "amount", "le": 0, "reason": "out"}],
                 text="Type,Memo,Amount\n" + body)  # fmt: skip
    assert result.rows_read == 5 * size
    assert len(result.valid) + len(result.outcomes) == result.rows_read
