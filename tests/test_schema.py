"""pandera schemas on parsed fields: failures point back at line, column and raw text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from batchpay.errors import SpecError
from batchpay.prepare import prepare
from batchpay.schema import SCHEMAS_DIR, describe_check, load_schema
from batchpay.spec import parse_spec

SPEC = {
    "name": "deposits",
    "schema": "bank_deposit",
    "fields": {
        "invoice_id": {"column": "Invoice"},
        "amount": {"column": "Amount", "type": "money", "currency": "EUR"},
        "date": {"column": "Date", "type": "date", "formats": ["%d/%m/%Y"]},
    },
    "action": {"type": "record_payment", "params": {
        "invoice_id": "invoice_id", "amount": "amount", "payment_method": {"const": "cash"}}},
}  # fmt: skip


def failures(tmp_path: Path, lines: list[str]) -> list[str]:
    path = tmp_path / "in.csv"
    path.write_text("Date,Invoice,Amount\n" + "".join(f"{line}\n" for line in lines))
    result = prepare(parse_spec(SPEC), path)
    outcomes = sorted(result.outcomes.values(), key=lambda o: o.origin)
    return [str(f) for o in outcomes for f in o.failures]


def test_clean_rows_pass(tmp_path: Path) -> None:
    assert failures(tmp_path, ["01/11/2026,INV-1,10.00"]) == []


def test_failures_name_line_column_and_raw_text(tmp_path: Path) -> None:
    long_id = "I" * 51
    assert failures(tmp_path, [
        "01/11/2026,INV-1,10.00",
        "01/11/1999,INV-2,10.00",
        f"01/11/2026,{long_id},10.00",
        "01/11/2026,INV-4,-0.00",
        '01/11/2026,"INV\t5",1.00',
    ]) == [
        'line 3, column "Date": "01/11/1999" is out of range '
        "(expected a date from 2000-01-01 to 2100-01-01)",
        f'line 4, column "Invoice": "{long_id}" is too long (expected at most 50 characters)',
        'line 5, column "Amount": "-0.00" is too small (expected more than 0)',
        'line 6, column "Invoice": "INV\t5" contains a control character '
        "(expected text without tabs, line breaks or the like)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("check", "field_type", "value", "words"),
    [
        ("str_length(1, 50)", "text", "", ("is too short", "at least 1 characters")),
        ("str_length(None, 100)", "text", "x" * 101, ("is too long", "at most 100 characters")),
        ("greater_than(0)", "money", -5, ("is too small", "more than 0")),
        ("greater_than_or_equal_to(1)", "money", 0, ("is too small", "at least 1")),
        ("less_than_or_equal_to(100)", "integer", 101, ("is too large", "at most 100")),
        ("in_range(946684800, 4102444800)", "date", 0,
         ("is out of range", "a date from 2000-01-01 to 2100-01-01")),
        ("greater_than(946684800)", "date", 0, ("is too small", "a date after 2000-01-01")),
        ("isin(['EUR', 'USD'])", "text", "GBP", ("is not allowed", "one of ['EUR', 'USD']")),
        ("not_nullable", "text", None, ("is empty", "a value")),
        ("field_uniqueness", "text", "x", ("is repeated", "a value unique in the file")),
        ("custom_thing", "text", "x", ("fails the check", "custom_thing")),
    ],
)
def test_describe_check(check: str, field_type: str, value: object,
                        words: tuple[str, str]) -> None:  # fmt: skip
    assert describe_check(check, field_type, value) == words


@pytest.mark.parametrize("name", sorted(p.stem for p in SCHEMAS_DIR.glob("*.yaml")))
def test_every_shipped_schema_loads(name: str) -> None:
    columns = yaml.safe_load((SCHEMAS_DIR / f"{name}.yaml").read_text())["columns"]
    schema = load_schema(name, SCHEMAS_DIR, dict.fromkeys(columns, "text"))
    assert schema.name == name


def test_unknown_schema(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_schema("nope", tmp_path, {})
    assert str(raised.value).startswith("schema: no schema 'nope' (")
    assert "known: allocation, bank_deposit, charge_list" in str(raised.value)


def test_schema_needs_the_job_to_define_its_fields(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_schema("charge_list", tmp_path, {"customer_id": "text"})
    assert str(raised.value) == (
        "schema: 'charge_list' needs field(s) amount, description; the job defines customer_id"
    )


def test_malformed_schema_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [1, 2\n")
    with pytest.raises(SpecError) as raised:
        load_schema("bad.yaml", tmp_path, {})
    assert str(raised.value).startswith(f"{bad}: not a valid pandera schema: ")


def _own_schema(tmp_path: Path, checks: str) -> dict[str, object]:
    (tmp_path / "mine.yaml").write_text(
        "schema_type: dataframe\napi: pandas\nname: mine\ncolumns:\n  invoice_id:\n"
        f"    dtype: str\n{checks}", encoding="utf-8")
    return {**SPEC, "schema": "mine.yaml"}


def test_a_schema_regex_runs_in_linear_time(tmp_path: Path) -> None:
    """Issue 13 item 2: a job's own schema file is spec too; its str_matches / str_contains run
    on RE2 (Python's re took for ever on these), with failures worded as before."""
    spec = _own_schema(tmp_path, "    str_matches: '^(\\w+)*$'\n    str_contains: '(x+x+)+y'\n")
    path = tmp_path / "in.csv"
    path.write_text("Date,Invoice,Amount\n01/11/2026,INVxxy,1.00\n"
                    f"01/11/2026,{'I' * 5000}!,1.00\n01/11/2026,{'x' * 5000},1.00\n")
    result = prepare(parse_spec(spec), path, spec_dir=tmp_path)
    assert [o.origin.row for o in result.valid] == [2]
    problems = {o.origin.row: [f.problem for f in o.failures] for o in result.outcomes.values()}
    assert problems == {3: ["does not have the expected form"] * 2,
                        4: ["does not have the expected form"]}


def test_a_schema_regex_re2_cannot_run_is_refused(tmp_path: Path) -> None:
    _own_schema(tmp_path, "    str_matches: '^(\\w)\\1$'\n")
    with pytest.raises(SpecError) as raised:
        load_schema("mine.yaml", tmp_path, {"invoice_id": "text"})
    assert str(raised.value).startswith(
        f"{tmp_path / 'mine.yaml'}: columns.invoice_id.str_matches: regex does not compile: ")
