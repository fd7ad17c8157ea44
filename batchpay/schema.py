"""pandera schemas for parsed fields: loading them and turning failures into spreadsheet terms.

Schemas live in ``schemas/`` as pandera YAML (declarative), one per input kind. They validate
the *parsed* fields (text, integer minor units, unix times), never raw text: parsing happens
first so a failure keeps its row (pandera loses the index on coercion failures, issue #1080).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from batchpay.errors import SpecError
from batchpay.patterns import PatternError, compile_pattern, subject
from batchpay.records import CellFailure, Origin

# package data (in the repository a link to schemas/): found when installed too
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"

FieldTypes = Mapping[str, str]  # field name -> "text" | "money" | "date" | "integer" | "boolean"


def schema_path(name: str, spec_dir: Path) -> Path:
    """A bare name is looked up in schemas/; anything with a slash or .yaml is a path."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        return (spec_dir / name).resolve()
    return SCHEMAS_DIR / f"{name}.yaml"


def load_schema(name: str, spec_dir: Path, field_types: FieldTypes) -> pa.DataFrameSchema:
    """Load a schema and check that the job defines every column it requires."""
    path = schema_path(name, spec_dir)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SCHEMAS_DIR.glob("*.yaml")))
        raise SpecError(f"schema: no schema '{name}' ({path}); known: {known}")
    schema = _read_schema(path)
    missing = [
        col for col, column in schema.columns.items() if column.required and col not in field_types
    ]
    if missing:
        raise SpecError(
            f"schema: '{name}' needs field(s) {', '.join(missing)}; "
            f"the job defines {', '.join(field_types)}"
        )
    return schema


@lru_cache(maxsize=32)
def _read_schema(path: Path) -> pa.DataFrameSchema:
    try:
        schema = pa.DataFrameSchema.from_yaml(path)
    except Exception as exc:  # pandera raises many kinds on a malformed schema file
        raise SpecError(f"{path}: not a valid pandera schema: {exc}") from None
    for name, column in schema.columns.items():
        column.checks = [_linear(check, f"{path}: columns.{name}.{check.name}")
                         for check in column.checks]
    return schema


_REGEX_CHECKS = {"str_matches": "match", "str_contains": "search"}


def _linear(check: pa.Check, where: str) -> pa.Check:
    """A regex check of the schema, run by RE2 like the job spec's own regexes (linear time);
    same name and error text, so failures read as before."""
    method = _REGEX_CHECKS.get(check.name or "")
    pattern = (check.statistics or {}).get("pattern")
    if method is None or not isinstance(pattern, str):
        return check
    try:
        compiled = compile_pattern(pattern)
    except PatternError as exc:
        raise SpecError(f"{where}: {exc}") from None
    test = getattr(compiled, method)
    return pa.Check(lambda series: series.map(lambda value: test(subject(str(value))) is not None),
                    name=check.name, error=check.error)


def validate_rows(
    schema: pa.DataFrameSchema,
    values: Mapping[str, Sequence[object]],
    positions: Sequence[int],
    field_types: FieldTypes,
    describe: Callable[[int, str], tuple[Origin, str, str]],
) -> dict[int, list[CellFailure]]:
    """Validate the given row positions lazily; return failures by row position.

    ``describe(position, field)`` gives the origin, input column and raw text to report.
    """
    if not positions:
        return {}
    frame = _frame(schema, values, positions, field_types)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return _failures(exc.failure_cases, describe, field_types)
    except SchemaError as exc:  # pragma: no cover - lazy=True collects into SchemaErrors
        raise SpecError(f"schema {schema.name}: {exc}") from None
    return {}


def _frame(
    schema: pa.DataFrameSchema,
    values: Mapping[str, Sequence[object]],
    positions: Sequence[int],
    field_types: FieldTypes,
) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name in schema.columns:
        if name not in values:
            continue
        column: list[Any] = [values[name][p] for p in positions]
        numeric = field_types[name] in ("money", "date", "integer")
        dtype = ("int64" if None not in column else "Int64") if numeric else "str"
        columns[name] = pd.Series(column, index=list(positions), dtype=dtype)
    return pd.DataFrame(columns, index=pd.Index(positions))


def _failures(
    cases: pd.DataFrame,
    describe: Callable[[int, str], tuple[Origin, str, str]],
    field_types: FieldTypes,
) -> dict[int, list[CellFailure]]:
    failures: dict[int, list[CellFailure]] = {}
    for case in cases.to_dict("records"):
        if pd.isna(case["index"]) or case["column"] is None:
            continue
        position = int(case["index"])
        name = str(case["column"])
        origin, column, raw = describe(position, name)
        problem, expected = describe_check(
            str(case["check"]), field_types.get(name, "text"), case["failure_case"]
        )
        failures.setdefault(position, []).append(
            CellFailure(origin, column, raw, problem, expected)
        )
    return failures


_CHECK = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)$", re.S)
_PRINTABLE = r"'^[^\x00-\x1f]+$'"


def describe_check(check: str, field_type: str = "text", value: object = None) -> tuple[str, str]:
    """pandera's check name, e.g. 'str_length(1, 50)', as (problem, expected) in words.

    Bounds on a date field are shown as dates (UTC), not unix seconds.
    """
    match = _CHECK.match(check)
    name, args = (match["name"], match["args"]) if match else (check, "")
    bounds = [_bound(arg, field_type) for arg in args.split(", ")] if args else []
    if name == "str_length":
        return _length(bounds, value)
    if name == "str_matches" and args == _PRINTABLE:
        return ("contains a control character", "text without tabs, line breaks or the like")
    low, high = [*bounds, "", ""][:2]
    words = {
        "greater_than": ("is too small", f"more than {low}"),
        "greater_than_or_equal_to": ("is too small", f"at least {low}"),
        "less_than": ("is too large", f"less than {low}"),
        "less_than_or_equal_to": ("is too large", f"at most {low}"),
        "in_range": ("is out of range", f"from {low} to {high}"),
        "isin": ("is not allowed", f"one of {args}"),
        "str_matches": ("does not have the expected form", f"text matching {args}"),
        "str_contains": ("does not have the expected form", f"text containing {args}"),
        "not_nullable": ("is empty", "a value"),
        "field_uniqueness": ("is repeated", "a value unique in the file"),
    }
    if name in words:
        problem, expected = words[name]
        if field_type == "date" and name != "not_nullable":
            expected = f"a date {expected}".replace("more than", "after").replace(
                "less than", "before"
            )
        return problem, expected
    if check.startswith("dtype("):
        return ("has the wrong type", check)
    return ("fails the check", check)


def _bound(arg: str, field_type: str) -> str:
    """A check argument for people: unix seconds of a date field become YYYY-MM-DD."""
    if field_type == "date" and re.fullmatch(r"-?\d+", arg):
        return datetime.fromtimestamp(int(arg), UTC).date().isoformat()
    return arg


def _length(bounds: list[str], value: object) -> tuple[str, str]:
    low, high = [*bounds, "None", "None"][:2]
    size = len(value) if isinstance(value, str) else None
    if high != "None" and (size is None or size > int(high)):
        return ("is too long", f"at most {high} characters")
    if low != "None" and size is not None and size < int(low):
        return ("is too short", f"at least {low} characters")
    return ("has the wrong length", f"{low} to {high} characters")
