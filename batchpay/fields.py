"""Derive business fields from a table of text, column by column.

Text extraction (column, template, regex, lookup, default) is vectorised with pandas; the
conversion of each value (money, date, integer) is a plain function per value, so a failure
can name its row, column and raw text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from batchpay.dates import DateError, describe_format, parse_date
from batchpay.money import (
    MAX_DIGITS,
    MONEY_CONTEXT,
    MoneyError,
    UnknownCurrency,
    parse_amount,
    plain_minor_units,
    to_minor_units,
)
from batchpay.patterns import capture, compile_pattern
from batchpay.records import CellFailure, Origin
from batchpay.spec import FieldSpec, JobSpec

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_INTEGER = re.compile(r"^[+-]?\d+$")
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass
class ParsedFields:
    """Per-field values aligned with the table's rows (None where empty or unparsable)."""

    values: dict[str, list[object]]
    currencies: dict[str, list[str | None]]  # money field -> currency of each row
    failures: dict[int, list[CellFailure]]  # row position -> failures
    broken: dict[str, set[int]] = field(default_factory=dict)  # field -> rows whose text is bad
    # Rows whose failures show the spec itself is wrong (e.g. the date order): no filter hides them.
    unskippable: set[int] = field(default_factory=set)

    def row(self, position: int) -> dict[str, object]:
        return {name: column[position] for name, column in self.values.items()}


def derive_fields(
    spec: JobSpec, frame: pd.DataFrame, origin: Callable[[int], Origin]
) -> ParsedFields:
    """Compute every field of ``spec`` for every row of ``frame`` (all cells text)."""
    parsed = ParsedFields(values={}, currencies={}, failures={})
    for name in _dependency_order(spec):
        _derive_one(name, spec.fields[name], frame, parsed, origin)
    _apply_sign_columns(spec, frame, parsed, origin)
    return parsed


def _dependency_order(spec: JobSpec) -> list[str]:
    """Currency fields first, so money fields can read them."""
    firsts = [n for n, f in spec.fields.items() if f.type != "money"]
    return firsts + [n for n, f in spec.fields.items() if f.type == "money"]


def _derive_one(
    name: str,
    spec: FieldSpec,
    frame: pd.DataFrame,
    parsed: ParsedFields,
    origin: Callable[[int], Origin],
) -> None:
    column = source_column(name, spec)
    raw = frame[column].tolist() if column in frame.columns else [""] * len(frame)

    def fail(
        position: int,
        problem: str,
        expected: str = "",
        value: str | None = None,
        broken: bool = True,
        where: str | None = None,
    ) -> None:
        failure = CellFailure(
            origin=origin(position),
            column=where or column,
            value=raw[position] if value is None else value,
            problem=problem,
            expected=expected,
        )
        parsed.failures.setdefault(position, []).append(failure)
        if broken:  # an empty value can still be tested by a filter ("empty: true")
            parsed.broken.setdefault(name, set()).add(position)

    unmatched: dict[int, str] = {}  # rows whose text the field's regex did not match
    if spec.type == "money" and spec.column is None and spec.columns is None:
        texts = _credit_debit_texts(spec, frame)
    else:
        texts = _texts(name, spec, frame, fail, unmatched)
    currencies = _currencies(spec, parsed, len(frame)) if spec.type == "money" else None
    quantities = frame[spec.quantity_column].str.strip().tolist() if spec.quantity_column else None
    convert = _converter(spec)
    if spec.type == "date":  # a file holds few distinct dates: parse each text once
        convert = _memoised(convert)
    plain_text = spec.type == "text"  # _text only refuses a number the spreadsheet shortened
    values: list[object] = []
    for position, text in enumerate(texts):
        if text == "":
            values.append(None)
            if position in unmatched and spec.required:
                fail(position, f"does not match the regex of fields.{name}",
                     f"text matching /{spec.regex}/", value=unmatched[position], broken=False)
            elif spec.required and position not in parsed.broken.get(name, set()):
                fail(position, "is empty", _empty_hint(spec), value=raw[position], broken=False)
            continue
        if plain_text and "e" not in text and "E" not in text:  # _text would keep it as it is
            values.append(text)
            continue
        try:
            currency = currencies[position] if currencies is not None else None
            if quantities is None:
                values.append(convert(text, currency))
            else:
                values.append(_money(text, currency, spec, quantities[position]))
        except _BadQuantity as exc:
            values.append(None)
            assert quantities is not None
            fail(position, exc.problem, exc.expected, value=quantities[position],
                 where=spec.quantity_column)
        except (MoneyError, DateError, _Invalid) as exc:
            values.append(None)
            shown = text.lstrip("\x01").replace("\x00", " / ")  # credit/debit markers
            debit = spec.debit_column if text.startswith("\x01") else None
            fail(position, exc.problem, exc.expected, value=shown, where=debit)
        except UnknownCurrency as exc:
            values.append(None)
            fail(position, f"has no valid currency ({exc})", "an ISO 4217 code such as EUR")
    if spec.type == "date":
        _check_date_order(spec, texts, values, origin, fail, parsed)
    parsed.values[name] = values
    if currencies is not None:
        parsed.currencies[name] = currencies


def _check_date_order(
    spec: FieldSpec,
    texts: list[str],
    values: list[object],
    origin: Callable[[int], Origin],
    fail: Callable[..., None],
    parsed: ParsedFields,
) -> None:
    """A value that only reads with day and month swapped proves the spec's order wrong.

    Then every value of the column that reads both ways was read the wrong way round: each
    becomes a failure naming the proof, and no filter may hide these rows.
    """
    swaps = [(fmt, swapped) for fmt in spec.formats if (swapped := _swapped(fmt)) != fmt]
    if not swaps:
        return
    proofs = [
        position
        for position, text in enumerate(texts)
        if values[position] is None and text and any(
            _reads(text, s) and not _reads(text, f) for f, s in swaps
        )  # a value that reads both ways failed for another reason (e.g. year out of range)
    ]
    if not proofs:
        return
    first = proofs[0]
    proof = f'{origin(first)} ("{texts[first]}")'
    ambiguous = []
    for position, text in enumerate(texts):
        pairs = [(f, s) for f, s in swaps if _reads(text, f) and _reads(text, s)]
        if values[position] is not None and any(
            datetime.strptime(text, f) != datetime.strptime(text, s) for f, s in pairs
        ):
            values[position] = None
            ambiguous.append(position)
            fmt, swapped = pairs[0]
            fail(
                position,
                f"is ambiguous: {proof} shows the dates are {describe_format(swapped)}, "
                f"not {describe_format(fmt)}",
                f"the job's formats to say {describe_format(swapped)} ({swapped})",
                value=text,
            )
    parsed.unskippable.update(proofs + ambiguous)


def _swapped(fmt: str) -> str:
    if "%d" not in fmt or "%m" not in fmt:
        return fmt
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _reads(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def source_column(name: str, spec: FieldSpec) -> str:
    """The input column a failure of this field points at (the field name for constants)."""
    return (spec.input_columns() or [name])[0]


def _empty_hint(spec: FieldSpec) -> str:
    if spec.regex:
        return f"text matching /{spec.regex}/"
    return "a value"


class _Invalid(ValueError):
    def __init__(self, problem: str, expected: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected


class _BadQuantity(_Invalid):
    """The quantity cell of a money field is at fault, not the amount's."""


def _texts(
    name: str,
    spec: FieldSpec,
    frame: pd.DataFrame,
    fail: Callable[..., None],
    unmatched: dict[int, str],
) -> list[str]:
    """The text of each row; ``unmatched`` receives the non-empty texts the regex missed."""
    series = _source_series(spec, frame)
    if spec.regex is not None:
        searched = series.tolist()
        values, missed = capture(compile_pattern(spec.regex), searched)
        unmatched.update((p, searched[p]) for p in missed if searched[p] != "")
        series = pd.Series(values, index=series.index, dtype=object)
    if spec.lookup is not None:
        series = _apply_lookup(series, spec, fail)
    if spec.default is not None:
        series = series.mask(series == "", spec.default)
    return series.tolist()


def _source_series(spec: FieldSpec, frame: pd.DataFrame) -> pd.Series:
    if spec.const is not None:
        return pd.Series([spec.const] * len(frame), index=frame.index, dtype=object)
    if spec.template is not None:
        return _render_template(spec.template, frame)
    if spec.columns is not None:
        result = pd.Series([""] * len(frame), index=frame.index, dtype=object)
        for column in reversed(spec.columns):
            values = frame[column].str.strip()
            result = values.where(values != "", result)
        return result
    assert spec.column is not None
    return frame[spec.column].str.strip().astype(object)


def _render_template(template: str, frame: pd.DataFrame) -> pd.Series:
    parts = re.split(r"(\{[^{}]+\})", template)
    result = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            result = result + frame[part[1:-1]].str.strip().astype(object)
        elif part:
            result = result + part
    return result


def _apply_lookup(series: pd.Series, spec: FieldSpec, fail: Callable[..., None]) -> pd.Series:
    table = {key.strip().casefold(): value for key, value in (spec.lookup or {}).items()}
    folded = series.str.casefold()
    mapped = folded.map(table)
    unknown = mapped.isna() & (series != "")
    if spec.lookup_default is not None:
        mapped = mapped.where(~unknown, spec.lookup_default)
    else:
        expected = "one of " + ", ".join(repr(k) for k in (spec.lookup or {}))
        for position in [i for i, bad in enumerate(unknown.tolist()) if bad]:
            fail(position, "is not in the lookup table", expected, value=series.iloc[position])
    return mapped.fillna("").astype(object)


def _credit_debit_texts(spec: FieldSpec, frame: pd.DataFrame) -> list[str]:
    """Merge credit/debit columns into signed text: debit amounts become negative."""
    empty = pd.Series("", index=frame.index, dtype=object)
    credit = frame[spec.credit_column].str.strip() if spec.credit_column else empty
    debit = frame[spec.debit_column].str.strip() if spec.debit_column else empty
    has_credit, has_debit = credit != "", debit != ""
    texts = empty.mask(has_credit & ~has_debit, credit)
    texts = texts.mask(~has_credit & has_debit, "\x01" + debit)  # marks a debit (made negative)
    result: list[str] = texts.tolist()
    credits: list[str] = credit.tolist()
    debits: list[str] = debit.tolist()
    for position in np.flatnonzero((has_credit & has_debit).to_numpy()).tolist():  # rare
        c, d = credits[position], debits[position]
        if _nonzero(d, spec) and _nonzero(c, spec):
            result[position] = f"{c}\x00{d}"  # rejected by the converter
        elif not _nonzero(d, spec):
            result[position] = c
        else:
            result[position] = f"\x01{d}"
    return result


def _nonzero(text: str, spec: FieldSpec) -> bool:
    try:
        return parse_amount(text, decimal=spec.decimal, thousands=spec.thousands) != 0
    except MoneyError:
        return True


def _currencies(spec: FieldSpec, parsed: ParsedFields, n: int) -> list[str | None]:
    if spec.currency is not None:
        return [spec.currency.upper()] * n
    assert spec.currency_field is not None
    return [
        str(value).strip().upper() if value not in (None, "") else None
        for value in parsed.values[spec.currency_field]
    ]


_SHORTENED_NUMBER = re.compile(r"^[+-]?\d(\.\d+)?[eE]\+?\d+$")


def _text(text: str) -> str:
    if _SHORTENED_NUMBER.match(text):  # e.g. a 20-digit reference Excel kept as a number
        raise _Invalid(
            "looks like a long number the spreadsheet shortened (digits are lost)",
            "the full value: format the column as Text in the spreadsheet and export again",
        )
    return text


def _memoised(
    convert: Callable[[str, str | None], object],
) -> Callable[[str, str | None], object]:
    """``convert`` with its results (and the errors it raises) remembered per argument."""
    seen: dict[tuple[str, str | None], tuple[bool, object]] = {}

    def cached(text: str, currency: str | None) -> object:
        hit = seen.get((text, currency))
        if hit is None:
            try:
                hit = (True, convert(text, currency))
            except (MoneyError, DateError, _Invalid, UnknownCurrency) as exc:
                hit = (False, exc)
            seen[(text, currency)] = hit
        ok, value = hit
        if not ok:
            assert isinstance(value, Exception)
            raise value.with_traceback(None)
        return value

    return cached


def _converter(spec: FieldSpec) -> Callable[[str, str | None], object]:
    if spec.type == "money":
        return lambda text, currency: _money(text, currency, spec)
    if spec.type == "date":
        return lambda text, _currency: _date(text, spec)
    if spec.type == "integer":
        return lambda text, _currency: _integer(text)
    if spec.type == "boolean":
        return lambda text, _currency: _boolean(text)
    return lambda text, _currency: _text(text)


def _quantity(text: str, spec: FieldSpec) -> Decimal:
    """A plain signed number (the field's decimal and thousands separators): no currency, no
    CR/DR, no brackets; those belong to amounts."""
    expected = f"a number such as 3 or 1{spec.decimal}5"
    if text == "":
        raise _BadQuantity("is empty", expected)
    cleaned = text.replace(" ", "")
    if spec.thousands:
        cleaned = cleaned.replace(spec.thousands, "")
    cleaned = cleaned.replace(spec.decimal, ".")
    if not _QUANTITY.match(cleaned):
        raise _BadQuantity("is not a quantity", expected)
    if sum(c.isdigit() for c in cleaned) > MAX_DIGITS:  # keeps the product exact (see _money)
        raise _BadQuantity(f"has more than {MAX_DIGITS} digits", expected)
    return Decimal(cleaned)


def _money(text: str, currency: str | None, spec: FieldSpec, quantity_text: str | None = None,
           ) -> int:
    if currency is None:
        raise _Invalid("has no currency", "a currency for this row")
    if "\x00" in text:
        raise _Invalid("has both a credit and a debit amount", "only one of the two columns filled")
    if quantity_text is None:
        minor = plain_minor_units(text.lstrip("\x01"), decimal=spec.decimal,
                                  thousands=spec.thousands, currency=currency)
        if minor is not None:  # the usual amount: as below, with integers
            if text.startswith("\x01"):
                minor = -minor
            return -minor if spec.negate and spec.sign_column is None else minor
    amount = parse_amount(text.lstrip("\x01"), decimal=spec.decimal, thousands=spec.thousands,
                          currency=currency)
    product = None
    if quantity_text is not None:
        product = MONEY_CONTEXT.multiply(amount, _quantity(quantity_text, spec))  # ≤ 30 × ≤ 30
        amount = product
    if text.startswith("\x01"):  # from the debit column: an outgoing amount, whatever its sign
        amount = -abs(amount)
    if spec.negate and spec.sign_column is None:  # with a sign column: after the flag
        amount = -amount
    try:
        return to_minor_units(amount, currency)
    except MoneyError as exc:
        if product is None:
            raise
        raise _Invalid(f"times the quantity {quantity_text} is {product:f}, which {exc.problem}",
                       exc.expected) from None


def _date(text: str, spec: FieldSpec) -> int:
    try:
        return parse_date(
            text,
            spec.formats,
            timezone=spec.timezone,
            time_of_day=spec.time_of_day,
            excel_serial=spec.excel_serial,
        )
    except DateError:
        raise
    except (ValueError, KeyError) as exc:  # e.g. unknown time zone
        formats = " or ".join(describe_format(f) for f in spec.formats)
        raise _Invalid(f"cannot be read as a date ({exc})", formats) from None


def _integer(text: str) -> int:
    cleaned = text.replace(" ", "")
    if not _INTEGER.match(cleaned) or len(cleaned) > 19:
        raise _Invalid("is not a whole number", "digits only, e.g. 1002")
    return int(cleaned)


def _boolean(text: str) -> bool:
    folded = text.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise _Invalid("is not yes/no", "true/false, yes/no or 1/0")


def _apply_sign_columns(
    spec: JobSpec, frame: pd.DataFrame, parsed: ParsedFields, origin: Callable[[int], Origin]
) -> None:
    """Make money fields negative where their sign column holds a debit flag (D, DR, ...)."""
    for name, field_spec in spec.fields.items():
        if field_spec.type == "money" and field_spec.sign_column is not None:
            _apply_sign_column(name, field_spec, frame, parsed, origin)


def _apply_sign_column(
    name: str,
    spec: FieldSpec,
    frame: pd.DataFrame,
    parsed: ParsedFields,
    origin: Callable[[int], Origin],
) -> None:
    """A debit flag makes the amount negative, then ``negate`` flips every flagged amount; a
    flag that is neither debit nor credit fails the row."""
    assert spec.sign_column is not None
    debits = {v.strip().upper() for v in spec.debit_values}
    credits = {v.strip().upper() for v in spec.credit_values}
    expected = (f"one of {', '.join(spec.debit_values)} (debit) or "
                f"{', '.join(spec.credit_values)} (credit)")
    values, broken = parsed.values[name], parsed.broken.setdefault(name, set())
    for position, text in enumerate(frame[spec.sign_column].tolist()):
        flag, value = text.strip().upper(), values[position]
        if flag in debits | credits:
            if isinstance(value, int):
                signed = -abs(value) if flag in debits else value
                values[position] = -signed if spec.negate else signed  # negate flips both
        elif value is not None or position in broken:
            values[position] = None
            broken.add(position)
            problem = "is not a debit/credit flag" if flag else "is empty"
            failure = CellFailure(origin(position), spec.sign_column, text, problem, expected)
            parsed.failures.setdefault(position, []).append(failure)


def used_columns(spec: JobSpec) -> list[str]:
    """Every input column the job reads, in first-use order (fields, filters, routes)."""
    columns: list[str] = []
    for field_spec in spec.fields.values():
        columns += field_spec.input_columns()
    columns += [f.column for f in spec.filters if f.column]
    columns += [r.when.column for r in spec.routes or [] if r.when and r.when.column]
    return list(dict.fromkeys(columns))

