"""The parameter table is generated from the specs, and the checks it drives."""

from __future__ import annotations

import json

import pytest
from sbx_helpers import SHARED

from batchpay.sandbox import SandboxApiError
from batchpay.sandbox.extract_params import DEFAULT_OUT, extract, load_specs, render
from batchpay.sandbox.params import operation, parse_list, validate

RECORD_V2 = "POST /invoices/{invoice-id}/record_payment"


def test_committed_params_json_matches_the_specs() -> None:
    if not (SHARED / "chargebee_api_v2_subset.yaml").exists():
        pytest.skip("../shared/chargebee is not present")
    assert render(extract(*load_specs(SHARED))) == DEFAULT_OUT.read_text(encoding="utf-8")


def test_table_has_the_spec_enums_per_version() -> None:
    v2 = operation("v2", RECORD_V2)["fields"]["transaction[payment_method]"]
    v1 = operation("v1", RECORD_V2)["fields"]["payment_method"]
    assert "direct_debit" in v1["enum"] and "direct_debit" not in v2["enum"]
    assert "custom" in v2["enum"] and "custom" not in v1["enum"]
    assert operation("v1", RECORD_V2)["fields"]["paid_at"]["required"] is True
    assert (
        "POST /invoices/{invoice-id}/apply_payments"
        not in json.loads(DEFAULT_OUT.read_text())["v1"]
    )


def _reject(items: list[tuple[str, str]], key: str = RECORD_V2, version: str = "v2") -> str:
    with pytest.raises(SandboxApiError) as info:
        validate(operation(version, key), items)
    assert info.value.status == 400 and info.value.api_error_code == "param_wrong_value"
    assert info.value.param is not None
    return info.value.param


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([("transaction[amont]", "1")], "transaction[amont]"),
        (
            [("transaction[amount]", "1.5"), ("transaction[payment_method]", "cash")],
            "transaction[amount]",
        ),
        (
            [("transaction[amount]", "-1"), ("transaction[payment_method]", "cash")],
            "transaction[amount]",
        ),
        ([("transaction[payment_method]", "card")], "transaction[payment_method]"),
        ([("transaction[amount]", "5")], "transaction[payment_method]"),
        ([("comment", "x" * 301), ("transaction[payment_method]", "cash")], "comment"),
        (
            [("transaction[payment_method]", "cash"), ("transaction[payment_method]", "check")],
            "transaction[payment_method]",
        ),
    ],
)
def test_bad_params_are_named(items: list[tuple[str, str]], param: str) -> None:
    assert _reject(items) == param


def test_column_wise_arrays_come_back_by_index() -> None:
    values = validate(
        operation("v2", "POST /invoices/{invoice-id}/apply_payments"),
        [
            ("transactions[id][0]", "a"),
            ("transactions[amount][0]", "5"),
            ("transactions[id][1]", "b"),
        ],
    )
    assert values == {"transactions[id]": {0: "a", 1: "b"}, "transactions[amount]": {0: 5}}


def test_array_field_without_index_is_rejected() -> None:
    assert _reject([("transactions[id]", "a")], "POST /invoices/{invoice-id}/apply_payments") == (
        "transactions[id]"
    )


def test_custom_fields_only_where_the_spec_allows_them() -> None:
    close = operation("v2", "POST /invoices/{invoice-id}/close")
    assert validate(close, [("cf_region", "EU")]) == {"cf_region": "EU"}
    assert _reject([("cf_region", "EU"), ("transaction[payment_method]", "cash")]) == "cf_region"


def test_filter_lists_accept_json_and_bare_forms() -> None:
    assert parse_list("id[in]", '["a","b"]') == ["a", "b"]
    assert parse_list("id[in]", "[a, b]") == ["a", "b"]
    status_in = operation("v2", "GET /invoices")
    assert validate(status_in, [("status[in]", '["paid","voided"]')]) == {
        "status[in]": ["paid", "voided"]
    }
    assert _reject([("status[in]", '["paid","settled"]')], "GET /invoices") == "status[in]"
    assert _reject([("limit", "101")], "GET /invoices") == "limit"
