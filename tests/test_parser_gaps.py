"""Issue 15 section 3: gaps real exports hit (sign flags, unnamed columns, ...), each driven
through the real reader and field derivation with a small generated file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from batchpay.prepare import PreparedInput, prepare
from batchpay.spec import parse_spec


def prepared(tmp_path: Path, text: str, spec: str) -> PreparedInput:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(spec)
    return prepare(parse_spec(data), path, tmp_path)


JOB = """
name: t
fields:
  amount:
    type: money
    column: Amount
    sign_column: {flag}
    currency: EUR
    negate: {negate}
    debit_values: {debits}
  ref: {{column: {ref}}}
action:
  type: record_payment
  params: {{invoice_id: ref, amount: amount, payment_method: {{const: cash}}}}
"""


def test_negate_with_a_sign_column_flips_debits_and_credits_alike(tmp_path: Path) -> None:
    text = "Amount,Flag,Ref\n100.00,C,a\n50.00,D,b\n"
    plain = prepared(tmp_path, text, JOB.format(flag="Flag", negate="false", debits='["D"]',
                                                 ref="Ref"))  # fmt: skip
    flipped = prepared(tmp_path, text, JOB.format(flag="Flag", negate="true", debits='["D"]',
                                                   ref="Ref"))  # fmt: skip
    assert plain.parsed.values["amount"] == [10000, -5000]
    assert flipped.parsed.values["amount"] == [-10000, 5000]


def test_an_empty_flag_listed_in_debit_values_and_an_unnamed_header_column(
    tmp_path: Path,
) -> None:
    # The flag column has no header name: it is "Column 2", by its position.
    text = "Amount,,Ref\n100.00,,a\n50.00,C,b\n"
    result = prepared(tmp_path, text, JOB.format(flag="Column 2", negate="false",
                                                 debits='["D", ""]', ref="Ref"))  # fmt: skip
    assert result.parsed.values["amount"] == [-10000, 5000]
    assert result.outcomes == {}
