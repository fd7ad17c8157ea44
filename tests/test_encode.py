"""Encoders: exact output per action × version, hostile ids, errors, and the OpenAPI specs."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from batchpay.chargebee.encode import (
    CATALOG_2_OPERATIONS,
    OPERATIONS,
    EncodeError,
    Field,
    Operation,
    Request,
    encode,
    list_invoices_request,
    list_transactions_request,
    retrieve_request,
)
from batchpay.errors import PlanError
from batchpay.spec import ACTION_PARAMS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "chargebee"
FORM = "application/x-www-form-urlencoded"


# -- the specs, loaded once per session -------------------------------------------------------


@functools.cache
def _load_specs() -> dict[str, dict[str, Any]]:
    return {
        "v1": json.loads((SHARED / "chargebee_api_v1_spec.json").read_text(encoding="utf-8")),
        "v2": yaml.safe_load((SHARED / "chargebee_api_v2_subset.yaml").read_text(encoding="utf-8")),
    }


@pytest.fixture(scope="session")
def specs() -> dict[str, dict[str, Any]]:
    if not SHARED.is_dir():
        pytest.skip(f"Chargebee specs not found at {SHARED}")
    return _load_specs()


def _body(specs: dict[str, Any], op: Operation) -> dict[str, Any] | None:
    """The form media-type object of op's request body, None when the spec has no body."""
    operation = specs[op.version]["paths"][op.spec_path]["post"]
    body = operation.get("requestBody")
    return None if body is None else body["content"][FORM]


_WIRE = re.compile(r"^([a-z_]+)((?:\[[a-z_]+\])*)((?:\[\d+\])?)$")


def _schema_for(media: dict[str, Any], wire: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema of the value, schema of its parent object) for a form field name like
    ``transaction[amount]``, ``transactions[id][0]`` or ``coupon_ids[0]``."""
    match = _WIRE.match(wire)
    assert match, f"unparseable wire name {wire}"
    top, index = match.group(1), match.group(3)
    nested = re.findall(r"\[([a-z_]+)\]", match.group(2))
    parent = media["schema"]
    assert top in parent["properties"], f"{wire}: {top} not in spec"
    schema = parent["properties"][top]
    if nested:
        enc = media.get("encoding", {}).get(top, {})
        assert enc == {"style": "deepObject", "explode": True}, f"{wire}: {top} not deepObject"
    for name in nested:
        assert schema["type"] == "object", f"{wire}: {name} under a non-object"
        assert name in schema["properties"], f"{wire}: {name} not in spec"
        parent, schema = schema, schema["properties"][name]
    if index:
        assert schema["type"] == "array", f"{wire}: indexed but not an array in the spec"
        schema = schema["items"]
    else:
        assert schema["type"] != "array", f"{wire}: an array sent without an index"
    return schema, parent


def _check_value(wire: str, value: str, schema: dict[str, Any]) -> None:
    kind = schema["type"]
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", value), f"{wire}={value!r} is not an integer"
        if "minimum" in schema:
            assert int(value) >= schema["minimum"], f"{wire}={value} below minimum"
    elif kind == "boolean":
        assert value in ("true", "false"), f"{wire}={value!r} is not a boolean"
    else:
        assert kind == "string", f"{wire}: unexpected spec type {kind}"
        if "maxLength" in schema:
            assert len(value) <= schema["maxLength"], f"{wire} longer than maxLength"
        if "enum" in schema:
            assert value in schema["enum"], f"{wire}={value!r} not in the spec enum"


def assert_matches_spec(specs: dict[str, Any], op: Operation, request: Request) -> None:
    """Every form field of ``request`` exists in op's request-body schema with a valid value,
    and every required field (top-level, or inside a nested object that is sent) is there."""
    media = _body(specs, op)
    if media is None:
        assert request.form == (), f"{op.spec_path} has no body in {op.version}"
        return
    names = [wire for wire, _ in request.form]
    assert len(names) == len(set(names)), f"duplicate fields in {names}"
    for wire, value in request.form:
        schema, _ = _schema_for(media, wire)
        _check_value(wire, value, schema)
    top_schema = media["schema"]
    for required in top_schema.get("required", []):
        assert required in names, f"{op.spec_path} {op.version}: required {required} missing"
    for prop, schema in top_schema["properties"].items():
        if schema.get("type") == "object" and any(n.startswith(prop + "[") for n in names):
            for required in schema.get("required", []):
                assert f"{prop}[{required}]" in names, f"{prop}[{required}] missing"


# -- the field tables mirror the specs ---------------------------------------------------------


TABLES = [(OPERATIONS, key) for key in sorted(OPERATIONS)] + [
    (CATALOG_2_OPERATIONS, key) for key in sorted(CATALOG_2_OPERATIONS)]


@pytest.mark.parametrize(("table", "key"), TABLES,
                         ids=[f"{op.action}-{op.version}-{op.spec_path}"
                              for op in (t[k] for t, k in TABLES)])
def test_field_table_matches_spec(specs: dict[str, Any], table: dict[Any, Operation],
                                  key: tuple[str, str]) -> None:
    op = table[key]
    media = _body(specs, op)
    if media is None:
        assert op.fields == ()
        return
    for field in op.fields:
        wire = field.wire
        schema, parent = _schema_for(media, wire)
        expected_kind = {"integer": "int", "boolean": "bool", "string": "text"}[schema["type"]]
        assert field.kind == expected_kind, wire
        assert field.max_length == schema.get("maxLength"), wire
        assert field.minimum == schema.get("minimum"), wire
        assert field.enum == (tuple(schema["enum"]) if "enum" in schema else None), wire
        nested = re.findall(r"\[([a-z_]+)\]", wire)
        leaf = nested[-1] if nested else wire.split("[")[0]
        stricter = wire == "charges[description][0]"  # batchpay requires it; see encode.py
        assert field.required == (stricter or leaf in parent.get("required", [])), wire


def test_apply_payments_columns_match_spec(specs: dict[str, Any]) -> None:
    op = OPERATIONS[("apply_payments", "v2")]
    media = _body(specs, op)
    assert media is not None
    id_schema, _ = _schema_for(media, "transactions[id][0]")
    amount_schema, _ = _schema_for(media, "transactions[amount][0]")
    assert id_schema["maxLength"] == 40
    assert amount_schema["type"] == "integer" and amount_schema["minimum"] == 0


def test_every_canonical_param_is_encodable_in_v2() -> None:
    for action, params in ACTION_PARAMS.items():
        op = OPERATIONS[(action, "v2")]
        names = {f.name for f in op.fields} | {"invoice_id", "transaction_id", "amount"}
        assert set(params) <= names, action


# -- exact output: every action × version, full and minimal ------------------------------------

RECORD_FULL = {
    "invoice_id": "inv_1",
    "amount": 12345,
    "payment_method": "bank_transfer",
    "reference_number": "REF-9",
    "date": 1_700_000_000,
    "comment": "March deposit",
}

EXACT: list[tuple[str, str, dict[str, Any], Request]] = [
    ("record_payment", "v2", {**RECORD_FULL, "id_at_gateway": "gw1"}, Request(
        "POST", "/invoices/inv_1/record_payment", (
            ("transaction[amount]", "12345"),
            ("transaction[payment_method]", "bank_transfer"),
            ("transaction[reference_number]", "REF-9"),
            ("transaction[id_at_gateway]", "gw1"),
            ("transaction[date]", "1700000000"),
            ("comment", "March deposit"),
        ), "inv_1")),
    ("record_payment", "v2", {"invoice_id": "inv_1", "payment_method": "custom",
                              "custom_payment_method_id": "cpm_1"}, Request(
        "POST", "/invoices/inv_1/record_payment", (
            ("transaction[payment_method]", "custom"),
            ("transaction[custom_payment_method_id]", "cpm_1"),
        ), "inv_1")),
    ("record_payment", "v2", {"invoice_id": "inv_1", "payment_method": "cash"}, Request(
        "POST", "/invoices/inv_1/record_payment",
        (("transaction[payment_method]", "cash"),), "inv_1")),
    ("record_payment", "v1", RECORD_FULL, Request(
        "POST", "/invoices/inv_1/record_payment", (
            ("amount", "12345"),
            ("payment_method", "bank_transfer"),
            ("paid_at", "1700000000"),
            ("reference_number", "REF-9"),
            ("memo", "March deposit"),
        ), "inv_1")),
    ("record_payment", "v1", {"invoice_id": "inv_1", "payment_method": "direct_debit",
                              "date": 1}, Request(
        "POST", "/invoices/inv_1/record_payment",
        (("payment_method", "direct_debit"), ("paid_at", "1")), "inv_1")),
    ("collect_payment", "v2", {"invoice_id": "inv_1", "amount": 500, "payment_source_id": "pm_1",
                               "comment": "c", "payment_initiator": "merchant"}, Request(
        "POST", "/invoices/inv_1/collect_payment", (
            ("amount", "500"), ("payment_source_id", "pm_1"), ("comment", "c"),
            ("payment_initiator", "merchant"),
        ), "inv_1")),
    ("collect_payment", "v2", {"invoice_id": "inv_1"}, Request(
        "POST", "/invoices/inv_1/collect_payment", (), "inv_1")),
    ("collect_payment", "v1", {"invoice_id": "inv_1", "amount": 1}, Request(
        "POST", "/invoices/inv_1/collect_payment", (("amount", "1"),), "inv_1")),
    ("collect_payment", "v1", {"invoice_id": "inv_1"}, Request(
        "POST", "/invoices/inv_1/collect_payment", (), "inv_1")),
    ("apply_payments", "v2", {"invoice_id": "inv_1", "comment": "apply",
                              "transactions": [("txn_a", 100), ("txn_b", None), ("txn_c", 0)]},
     Request("POST", "/invoices/inv_1/apply_payments", (
         ("transactions[id][0]", "txn_a"),
         ("transactions[id][1]", "txn_b"),
         ("transactions[id][2]", "txn_c"),
         ("transactions[amount][0]", "100"),
         ("transactions[amount][2]", "0"),
         ("comment", "apply"),
     ), "inv_1")),
    ("apply_payments", "v2", {"invoice_id": "inv_1", "transaction_id": "txn_a", "amount": 7},
     Request("POST", "/invoices/inv_1/apply_payments", (
         ("transactions[id][0]", "txn_a"), ("transactions[amount][0]", "7"),
     ), "inv_1")),
    ("apply_payments", "v2", {"invoice_id": "inv_1"}, Request(
        "POST", "/invoices/inv_1/apply_payments", (), "inv_1")),
    ("close_invoice", "v2", {"invoice_id": "inv_1", "comment": "c", "invoice_note": "n",
                             "remove_general_note": True, "invoice_date": 1_700_000_000},
     Request("POST", "/invoices/inv_1/close", (
         ("comment", "c"), ("invoice_note", "n"), ("remove_general_note", "true"),
         ("invoice_date", "1700000000"),
     ), "inv_1")),
    ("close_invoice", "v2", {"invoice_id": "inv_1", "remove_general_note": False}, Request(
        "POST", "/invoices/inv_1/close", (("remove_general_note", "false"),), "inv_1")),
    ("close_invoice", "v2", {"invoice_id": "inv_1"}, Request(
        "POST", "/invoices/inv_1/close", (), "inv_1")),
    ("close_invoice", "v1", {"invoice_id": "inv_1", "comment": None, "invoice_note": ""},
     Request("POST", "/invoices/inv_1/collect", (), "inv_1")),
    ("charge", "v2", {"customer_id": "cus_1", "currency_code": "EUR", "amount": 999,
                      "description": "Setup fee", "date_from": 1, "date_to": 2, "coupon": "C10",
                      "po_number": "PO-1", "invoice_date": 3, "payment_source_id": "pm_1",
                      "payment_initiator": "customer"},
     Request("POST", "/invoices/charge", (
         ("customer_id", "cus_1"), ("currency_code", "EUR"), ("amount", "999"),
         ("description", "Setup fee"), ("date_from", "1"), ("date_to", "2"),
         ("coupon_ids[0]", "C10"), ("po_number", "PO-1"), ("invoice_date", "3"),
         ("payment_source_id", "pm_1"), ("payment_initiator", "customer"),
     ), None)),
    ("charge", "v2", {"subscription_id": "sub_1", "description": "Fee"}, Request(
        "POST", "/invoices/charge", (("subscription_id", "sub_1"), ("description", "Fee")),
        None)),
    ("charge", "v1", {"customer_id": "cus_1", "amount": 999, "description": "Setup fee",
                      "coupon": "C10", "po_number": "PO-1"},
     Request("POST", "/invoices/charge", (
         ("customer_id", "cus_1"), ("amount", "999"), ("description", "Setup fee"),
         ("coupon", "C10"), ("po_number", "PO-1"),
     ), None)),
    ("charge", "v1", {"subscription_id": "sub_1", "description": "Fee"}, Request(
        "POST", "/invoices/charge", (("subscription_id", "sub_1"), ("description", "Fee")),
        None)),
]


@pytest.mark.parametrize(("action", "version", "params", "expected"), EXACT,
                         ids=[f"{a}-{v}-{i}" for i, (a, v, _, _) in enumerate(EXACT)])
def test_exact_output(action: str, version: Any, params: dict[str, Any],
                      expected: Request) -> None:
    assert encode(action, version, params) == expected


CHARGE_PC2 = "/invoices/create_for_charge_items_and_charges"
EXACT_CATALOG_2 = [
    ({"customer_id": "cus_1", "currency_code": "EUR", "amount": 999,
      "description": "Setup fee", "date_from": 1, "date_to": 2, "coupon": "C10",
      "po_number": "PO-1", "invoice_date": 3, "payment_source_id": "pm_1",
      "payment_initiator": "customer"},
     Request("POST", CHARGE_PC2, (
         ("customer_id", "cus_1"), ("currency_code", "EUR"), ("charges[amount][0]", "999"),
         ("charges[description][0]", "Setup fee"), ("charges[date_from][0]", "1"),
         ("charges[date_to][0]", "2"), ("coupon_ids[0]", "C10"), ("po_number", "PO-1"),
         ("invoice_date", "3"), ("payment_source_id", "pm_1"),
         ("payment_initiator", "customer"),
     ), None)),
    ({"subscription_id": "sub_1", "amount": 5, "description": "Fee"}, Request(
        "POST", CHARGE_PC2, (("subscription_id", "sub_1"), ("charges[amount][0]", "5"),
                             ("charges[description][0]", "Fee")), None)),
]


@pytest.mark.parametrize(("params", "expected"), EXACT_CATALOG_2)
def test_catalog_2_charge_is_an_invoice_with_one_ad_hoc_charge(
    params: dict[str, Any], expected: Request, specs: dict[str, Any]
) -> None:
    assert encode("charge", "v2", params, catalog="2.0") == expected
    assert_matches_spec(specs, CATALOG_2_OPERATIONS[("charge", "v2")], expected)


def test_catalog_2_charge_without_a_description_is_refused_as_on_1_0() -> None:
    for catalog in ("1.0", "2.0"):
        with pytest.raises(EncodeError) as raised:
            encode("charge", "v2", {"customer_id": "c", "amount": 1, "description": ""}, catalog)
        assert raised.value.param == "description"


def test_catalog_changes_only_charge_and_only_in_v2() -> None:
    record = {"invoice_id": "i", "payment_method": "cash", "amount": 1}
    assert encode("record_payment", "v2", record, "2.0") == encode("record_payment", "v2", record)
    charge = {"customer_id": "c", "amount": 1, "description": "d"}
    assert encode("charge", "v1", charge, "2.0").path == "/invoices/charge"
    assert encode("charge", "v2", charge, "1.0").path == "/invoices/charge"
    assert encode("charge", "v2", charge).path == "/invoices/charge"


@pytest.mark.parametrize(("action", "version", "params", "expected"), EXACT,
                         ids=[f"{a}-{v}-{i}" for i, (a, v, _, _) in enumerate(EXACT)])
def test_exact_output_matches_spec(action: str, version: Any, params: dict[str, Any],
                                   expected: Request, specs: dict[str, Any]) -> None:
    assert_matches_spec(specs, OPERATIONS[(action, version)], expected)


def test_none_and_empty_are_omitted() -> None:
    request = encode("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash",
                                              "amount": None, "reference_number": "",
                                              "comment": None})
    assert request.form == (("transaction[payment_method]", "cash"),)


def test_int_text_value_becomes_text() -> None:
    request = encode("record_payment", "v2", {"invoice_id": 42, "payment_method": "check",
                                              "reference_number": 1007})
    assert request.path == "/invoices/42/record_payment"
    assert ("transaction[reference_number]", "1007") in request.form


# -- hostile ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(("invoice_id", "segment"), [
    ("../x", "..%2Fx"),
    ("a/b", "a%2Fb"),
    ("%2F", "%252F"),
    ("a b", "a%20b"),
    ("ünï", "%C3%BCn%C3%AF"),
    ("..", "%2E%2E"),
    (".", "%2E"),
    ("a?b#c", "a%3Fb%23c"),
    ("a.b", "a.b"),
])
def test_hostile_invoice_ids_stay_one_segment(invoice_id: str, segment: str) -> None:
    request = encode("collect_payment", "v2", {"invoice_id": invoice_id})
    assert request.path == f"/invoices/{segment}/collect_payment"
    assert request.invoice_id == invoice_id
    assert request.path.count("/") == 3


@pytest.mark.parametrize("kind", ["invoice", "customer"])
def test_retrieve_encodes_id(kind: Any) -> None:
    assert retrieve_request(kind, "../a/b").path == f"/{kind}s/..%2Fa%2Fb"
    assert retrieve_request(kind, "x").form == ()


# -- EncodeError branches ---------------------------------------------------------------------


@pytest.mark.parametrize(("action", "version", "params", "param", "words"), [
    ("apply_payments", "v1", {"invoice_id": "i"}, "action", "does not exist in Chargebee API v1"),
    ("refund", "v2", {}, "action", "unknown action"),
    ("record_payment", "v3", {"invoice_id": "i"}, "api_version", "unknown API version"),
    ("record_payment", "v2", {"invoice_id": "i"}, "payment_method", "requires payment_method"),
    ("record_payment", "v1", {"invoice_id": "i", "payment_method": "cash"}, "date",
     "sent as paid_at"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "direct_debit"},
     "payment_method", "not accepted"),
    ("record_payment", "v1", {"invoice_id": "i", "payment_method": "custom", "date": 1},
     "payment_method", "not accepted"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash", "amount": -1},
     "amount", "at least 0"),
    ("record_payment", "v1", {"invoice_id": "i", "payment_method": "cash", "date": 1,
                              "amount": 0}, "amount", "at least 1"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash", "amount": "12"},
     "amount", "integer"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash", "amount": True},
     "amount", "integer"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash",
                              "reference_number": "x" * 101}, "reference_number", "at most 100"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash",
                              "custom_payment_method_id": "c"}, "custom_payment_method_id",
     "needs payment_method custom"),
    ("record_payment", "v1", {"invoice_id": "i", "payment_method": "cash", "date": 1,
                              "id_at_gateway": "g"}, "id_at_gateway", "has no parameter"),
    ("record_payment", "v2", {"payment_method": "cash"}, "invoice_id", "requires invoice_id"),
    ("record_payment", "v2", {"invoice_id": True, "payment_method": "cash"}, "invoice_id",
     "must be text"),
    ("record_payment", "v2", {"invoice_id": "i", "payment_method": "cash", "memo": "x"}, "memo",
     "has no parameter"),
    ("collect_payment", "v2", {"invoice_id": "i", "amount": 0}, "amount", "at least 1"),
    ("collect_payment", "v1", {"invoice_id": "i", "payment_source_id": "pm"},
     "payment_source_id", "API v1 has no parameter"),
    ("collect_payment", "v2", {"invoice_id": "i", "payment_initiator": "bank"},
     "payment_initiator", "not accepted"),
    ("close_invoice", "v1", {"invoice_id": "i", "comment": "c"}, "comment",
     "takes no parameters"),
    ("close_invoice", "v2", {"invoice_id": "i", "remove_general_note": "yes"},
     "remove_general_note", "true or false"),
    ("close_invoice", "v2", {"invoice_id": "i", "invoice_note": "n" * 2001}, "invoice_note",
     "at most 2000"),
    ("charge", "v2", {"description": "d"}, "customer_id", "exactly one"),
    ("charge", "v2", {"customer_id": "c", "subscription_id": "s", "description": "d"},
     "customer_id", "exactly one"),
    ("charge", "v2", {"customer_id": "c"}, "description", "requires description"),
    ("charge", "v2", {"customer_id": "c", "description": "d", "amount": 0}, "amount",
     "at least 1"),
    ("charge", "v2", {"subscription_id": "s", "description": "d", "currency_code": "EUR"},
     "currency_code", "only with customer_id"),
    ("charge", "v2", {"customer_id": "c", "description": "d", "currency_code": "EURO"},
     "currency_code", "at most 3"),
    ("charge", "v1", {"customer_id": "c", "description": "d", "date_from": 1}, "date_from",
     "API v1 has no parameter"),
    ("charge", "v1", {"customer_id": "c", "description": "d", "currency_code": "EUR"},
     "currency_code", "API v1 has no parameter"),
    ("charge", "v2", {"customer_id": "c", "description": "d" * 251}, "description",
     "at most 250"),
    ("charge", "v2", {"customer_id": "c", "description": "d", "invoice_id": "i"}, "invoice_id",
     "has no parameter"),
    ("apply_payments", "v2", {"invoice_id": "i", "transactions": [("t", -1)]}, "amount",
     "at least 0"),
    ("apply_payments", "v2", {"invoice_id": "i", "transactions": [("t" * 41, 1)]},
     "transaction_id", "at most 40"),
    ("apply_payments", "v2", {"invoice_id": "i", "transactions": [(None, 1)]},
     "transaction_id", "required"),
    ("apply_payments", "v2", {"invoice_id": "i", "transactions": ["t"]}, "transactions",
     "each item"),
    ("apply_payments", "v2", {"invoice_id": "i", "transactions": "t"}, "transactions",
     "list of"),
    ("apply_payments", "v2", {"invoice_id": "i", "transactions": [("t", 1)],
                              "transaction_id": "u"}, "transactions", "not both"),
    ("apply_payments", "v2", {"invoice_id": "i", "amount": 5}, "amount", "needs a transaction"),
])
def test_encode_errors(action: str, version: Any, params: dict[str, Any], param: str,
                       words: str) -> None:
    with pytest.raises(EncodeError) as info:
        encode(action, version, params)
    assert info.value.param == param
    assert words in str(info.value)
    assert isinstance(info.value, PlanError)


@pytest.mark.parametrize("bad", ["", None])
def test_empty_invoice_id_is_missing(bad: Any) -> None:
    with pytest.raises(EncodeError, match="requires invoice_id"):
        encode("close_invoice", "v2", {"invoice_id": bad})


# -- list requests ------------------------------------------------------------------------------


def test_list_invoices_request() -> None:
    request = list_invoices_request(["a", "b\"c"], offset="next1", limit=50)
    assert request == Request("GET", "/invoices", (
        ("id[in]", '["a","b\\"c"]'), ("limit", "50"), ("offset", "next1"),
    ), None)
    assert list_invoices_request(["a"]).form == (("id[in]", '["a"]'), ("limit", "100"))


@pytest.mark.parametrize(("ids", "limit"), [([], 100), (["x"] * 101, 100), (["a"], 0),
                                            (["a"], 101), ([""], 100), ("ab", 100)])
def test_list_invoices_request_rejects(ids: Any, limit: int) -> None:
    with pytest.raises(ValueError):
        list_invoices_request(ids, limit=limit)


def test_list_transactions_request() -> None:
    request = list_transactions_request(reference_number="CHK 1", customer_id="cus", offset="o")
    assert request == Request("GET", "/transactions", (
        ("reference_number[is]", "CHK 1"), ("customer_id[is]", "cus"), ("limit", "100"),
        ("offset", "o"),
    ), None)


def test_list_query_params_are_in_the_v2_spec(specs: dict[str, Any]) -> None:
    for path, request in [("/invoices", list_invoices_request(["a"], offset="o")),
                          ("/transactions", list_transactions_request(
                              reference_number="r", customer_id="c", offset="o"))]:
        params = {p["name"]: p for p in specs["v2"]["paths"][path]["get"]["parameters"]
                  if "name" in p}
        for name, _value in request.form:
            base, _, op = name.partition("[")
            assert base in params, name
            if op:
                assert params[base]["style"] == "deepObject"
                assert op.rstrip("]") in params[base]["schema"]["properties"], name


# -- property: random valid params encode to spec-valid forms ---------------------------------


def _value(field: Field) -> st.SearchStrategy[Any]:
    if field.kind == "int":
        return st.integers(min_value=field.minimum or 0, max_value=2**40)
    if field.kind == "bool":
        return st.booleans()
    if field.enum:
        return st.sampled_from(field.enum)
    return st.text(min_size=1, max_size=field.max_length or 60)


@st.composite
def _valid_call(draw: st.DrawFn) -> tuple[Operation, dict[str, Any]]:
    op = draw(st.sampled_from(sorted(OPERATIONS.values(), key=lambda o: (o.action, o.version))))
    params: dict[str, Any] = {}
    for field in op.fields:
        if field.required or draw(st.booleans()):
            params[field.name] = draw(_value(field))
    if op.on_invoice:
        params["invoice_id"] = draw(st.text(min_size=1, max_size=50))
    if op.action == "charge":
        params.pop("subscription_id", None)
        params["customer_id"] = draw(st.text(min_size=1, max_size=50))
    if op.action == "record_payment" and params.get("payment_method") != "custom":
        params.pop("custom_payment_method_id", None)
    if op.action == "apply_payments":
        params["transactions"] = draw(st.lists(st.tuples(
            st.text(min_size=1, max_size=40),
            st.none() | st.integers(min_value=0, max_value=2**40)), max_size=4))
    return op, params


@settings(max_examples=300, deadline=None)
@given(_valid_call())
def test_random_valid_params_match_spec(call: tuple[Operation, dict[str, Any]]) -> None:
    if not SHARED.is_dir():
        pytest.skip("Chargebee specs not found")
    op, params = call
    request = encode(op.action, op.version, params)
    assert_matches_spec(_load_specs(), op, request)
    assert request.path.count("/") == op.spec_path.count("/")
    int_wires = {f.wire for f in op.fields if f.kind == "int"} | {"transactions[amount]"}
    for wire, value in request.form:
        if re.sub(r"\[\d+\]$", "", wire) in int_wires:
            assert isinstance(int(value), int)
