"""From a job spec and an input file to valid rows, skipped rows and invalid rows.

read (text) -> derive fields -> filters (with reasons) -> pandera schema -> PreparedInput.
Nothing is lost: every row read ends up either valid, skipped with a reason, or invalid with
its failures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from batchpay.fields import ParsedFields, derive_fields, source_column, used_columns
from batchpay.money import declared_currencies
from batchpay.patterns import compile_pattern, searches
from batchpay.progress import OnStep, announce
from batchpay.read import Table, read_table
from batchpay.records import CellFailure, Origin, Outcome, RawRow, RowOutcome
from batchpay.schema import load_schema, validate_rows
from batchpay.spec import Condition, JobSpec


@dataclass
class PreparedRow:
    """A row that parsed and validated: its fields are ready to map to an action."""

    position: int
    origin: Origin
    raw: Mapping[str, str]
    fields: dict[str, object]
    currencies: dict[str, str | None]


@dataclass
class PreparedInput:
    spec: JobSpec
    table: Table
    raw_rows: list[RawRow]
    valid: list[PreparedRow]
    outcomes: dict[int, RowOutcome]  # skipped and invalid rows, by position
    sha256: str
    parsed: ParsedFields

    @property
    def rows_read(self) -> int:
        return len(self.raw_rows)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(
    spec: JobSpec, input_path: Path, spec_dir: Path | None = None, on_step: OnStep | None = None
) -> PreparedInput:
    """Read, parse, filter and validate ``input_path`` as ``spec`` describes."""
    with declared_currencies(spec.currencies):
        return _prepare(spec, input_path, spec_dir, on_step)


def _prepare(
    spec: JobSpec, input_path: Path, spec_dir: Path | None, on_step: OnStep | None
) -> PreparedInput:
    field_types = {name: f.type for name, f in spec.fields.items()}
    schema = (
        load_schema(spec.schema_, spec_dir or Path.cwd(), field_types) if spec.schema_ else None
    )
    announce(on_step, "read", f"Reading {input_path.name}")
    table = read_table(input_path, spec.input, required_columns=used_columns(spec))
    frame = table.frame
    announce(on_step, "validate", f"Validating {len(frame):,} rows")
    parsed = derive_fields(spec, frame, lambda position: table.origin(int(frame.index[position])))
    columns = {str(name): frame[name].tolist() for name in frame.columns}
    raw_rows = [RawRow(columns, position) for position in range(len(frame))]
    skip_reasons = _filter_reasons(spec, frame, parsed)
    outcomes: dict[int, RowOutcome] = {}
    candidates: list[int] = []
    rows = _row_numbers(frame)
    for position in range(len(frame)):
        reason = skip_reasons[position]
        unreadable = table.failures.get(rows[position]) if table.failures else None
        if unreadable:  # a short row or an unreadable cell: no filter may hide it
            every = (*unreadable, *parsed.failures.get(position, ()))
            outcomes[position] = _invalid(spec, table, parsed, raw_rows, position, every)
        elif reason is not None and position not in parsed.unskippable:
            outcomes[position] = _row_outcome(spec, table, parsed, raw_rows, position,
                                              Outcome.SKIPPED, reason)
        elif position in parsed.failures:
            outcomes[position] = _invalid(spec, table, parsed, raw_rows, position,
                                          parsed.failures[position])
        else:
            candidates.append(position)
    if schema is not None:
        schema_failures = validate_rows(
            schema,
            parsed.values,
            candidates,
            field_types,
            lambda position, name: _describe(spec, table, raw_rows, position, name),
        )
        for position, failures in schema_failures.items():
            outcomes[position] = _invalid(spec, table, parsed, raw_rows, position, failures)
        candidates = [p for p in candidates if p not in schema_failures]
    valid = _prepared_rows(table, parsed, raw_rows, candidates)
    return PreparedInput(
        spec=spec,
        table=table,
        raw_rows=raw_rows,
        valid=valid,
        outcomes=outcomes,
        sha256=file_sha256(input_path),
        parsed=parsed,
    )


def _describe(
    spec: JobSpec, table: Table, raw_rows: list[RawRow], position: int, name: str
) -> tuple[Origin, str, str]:
    origin = table.origin(int(table.frame.index[position]))
    if name not in spec.fields:
        return origin, name, ""
    column = source_column(name, spec.fields[name])
    return origin, column, raw_rows[position].get(column, "")


def _prepared_row(
    table: Table, parsed: ParsedFields, raw_rows: list[RawRow], position: int
) -> PreparedRow:
    return PreparedRow(
        position=position,
        origin=table.origin(int(table.frame.index[position])),
        raw=raw_rows[position],
        fields=parsed.row(position),
        currencies={name: values[position] for name, values in parsed.currencies.items()},
    )


def _row_numbers(frame: pd.DataFrame) -> list[int]:
    """The file row (or line) number of each position, as the frame's index holds it."""
    return frame.index.astype("int64").tolist()


def _prepared_rows(
    table: Table, parsed: ParsedFields, raw_rows: list[RawRow], positions: list[int]
) -> list[PreparedRow]:
    """``_prepared_row`` of each position, with the columns looked up once."""
    rows = _row_numbers(table.frame)
    values, currencies = list(parsed.values.items()), list(parsed.currencies.items())
    return [
        PreparedRow(
            position=position,
            origin=table.origin(rows[position]),
            raw=raw_rows[position],
            fields={name: column[position] for name, column in values},
            currencies={name: column[position] for name, column in currencies},
        )
        for position in positions
    ]


def _invalid(
    spec: JobSpec,
    table: Table,
    parsed: ParsedFields,
    raw_rows: list[RawRow],
    position: int,
    failures: Sequence[CellFailure],
) -> RowOutcome:
    outcome = _row_outcome(spec, table, parsed, raw_rows, position, Outcome.INVALID,
                           "; ".join(str(f) for f in failures))
    outcome.failures = tuple(failures)
    return outcome


def _row_outcome(
    spec: JobSpec,
    table: Table,
    parsed: ParsedFields,
    raw_rows: list[RawRow],
    position: int,
    outcome: Outcome,
    reason: str,
) -> RowOutcome:
    """A row outcome with whatever amount and currency could be parsed (for control totals),
    and every other value the job's action would have sent (invoice, date, payment method,
    business key), so a row a filter skipped shows what it was read as."""
    from batchpay.plan import outcome_for, planned_row  # plan imports this module

    amount, currency = row_amount(spec, parsed, position)
    row = _prepared_row(table, parsed, raw_rows, position)
    result = outcome_for(planned_row(spec, spec.actions()[0], row), outcome, reason)
    result.action = None  # no call was planned for it
    result.currency, result.amount_minor = currency, amount
    return result


def amount_field(spec: JobSpec) -> str | None:
    """The money field that holds a row's amount: the one mapped to 'amount', else the first."""
    for action in spec.actions():
        source = action.params.get("amount")
        if isinstance(source, str):
            return source
    money = [name for name, f in spec.fields.items() if f.type == "money"]
    return money[0] if money else None


def row_amount(spec: JobSpec, parsed: ParsedFields, position: int) -> tuple[int | None, str | None]:
    name = amount_field(spec)
    if name is None:
        return None, None
    value = parsed.values[name][position]
    currency = parsed.currencies[name][position]
    return (value if isinstance(value, int) else None), currency


def _filter_reasons(spec: JobSpec, frame: pd.DataFrame, parsed: ParsedFields) -> list[str | None]:
    """The first filter reason that skips each row, or None to keep it."""
    reasons: list[str | None] = [None] * len(frame)
    for rule in spec.filters:
        matches = condition_mask(rule, frame, parsed)
        for position, matched in enumerate(matches):
            if reasons[position] is None and matched is not None and matched != rule.keep:
                reasons[position] = rule.reason
    return reasons


def condition_mask(rule: Condition, frame: pd.DataFrame, parsed: ParsedFields) -> list[bool | None]:
    """Whether each row meets the condition; None where a field it tests did not parse."""
    if rule.column is not None:
        texts = frame[rule.column].str.strip().tolist()
        text_test = _text_test(rule)
        return [text_test(text) for text in texts]
    assert rule.field is not None
    values = parsed.values[rule.field]
    broken = parsed.broken.get(rule.field, set())
    value_test = _value_test(rule)
    return [
        None if position in broken else value_test(value)
        for position, value in enumerate(values)
    ]


def _text_test(rule: Condition) -> Callable[[str], bool]:
    """Whether a text meets every text condition of ``rule`` (worked out once per rule)."""
    checks: list[Callable[[str], bool]] = []
    if rule.equals is not None:
        equals = rule.equals.strip()
        checks.append(lambda text: text == equals)
    if rule.one_of is not None:
        one_of = {v.strip() for v in rule.one_of}
        checks.append(lambda text: text in one_of)
    if rule.matches is not None:
        pattern = compile_pattern(rule.matches)
        checks.append(lambda text: searches(pattern, text))
    if rule.empty is not None:
        empty = rule.empty
        checks.append(lambda text: (text == "") == empty)
    return lambda text: all(check(text) for check in checks)


def _value_test(rule: Condition) -> Callable[[object], bool]:
    """Whether a parsed value meets ``rule``: emptiness, its text, then its bounds."""
    text_rule = rule.model_copy(update={"empty": None})
    tests_text = any(c is not None for c in (text_rule.equals, text_rule.one_of,
                                             text_rule.matches))
    text_test = _text_test(text_rule)
    bounded = any(bound is not None for bound in (rule.gt, rule.lt, rule.ge, rule.le))

    def test(value: object) -> bool:
        if rule.empty is not None and (value in (None, "")) != rule.empty:
            return False
        if tests_text and not text_test("" if value is None else str(value)):
            return False
        if bounded:
            if not isinstance(value, int) or isinstance(value, bool):
                return False
            return _in_bounds(rule, value)
        return True

    return test


def _in_bounds(rule: Condition, value: int) -> bool:
    return not (
        (rule.gt is not None and not value > rule.gt)
        or (rule.lt is not None and not value < rule.lt)
        or (rule.ge is not None and not value >= rule.ge)
        or (rule.le is not None and not value <= rule.le)
    )
