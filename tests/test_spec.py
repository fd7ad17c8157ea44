"""Loading job specs: every error names the file and the key path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchpay.errors import SpecError
from batchpay.spec import ConstParam, load_spec

FIELDS = {
    "invoice_id": {"column": "Invoice"},
    "amount": {"column": "Amount", "type": "money", "currency": "EUR"},
}
ACTION: dict[str, Any] = {
    "type": "record_payment",
    "params": {"invoice_id": "invoice_id", "amount": "amount",
               "payment_method": {"const": "bank_transfer"}},
}  # fmt: skip


CHARGE: dict[str, Any] = {
    "type": "charge", "params": {"customer_id": "invoice_id", "amount": "amount",
                                 "description": "invoice_id"},
}  # fmt: skip


def job(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"name": "deposits", "fields": FIELDS, "action": ACTION}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


WriteJob = Callable[[object], Path]


@pytest.fixture
def write_job(tmp_path: Path) -> WriteJob:
    def write(data: object) -> Path:
        path = tmp_path / "job.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return write


def test_load_minimal_spec(write_job: WriteJob) -> None:
    spec = load_spec(write_job(job()))
    assert spec.name == "deposits"
    assert spec.fields["amount"].currency == "EUR"
    assert spec.action is not None
    assert spec.action.params["payment_method"] == ConstParam(const="bank_transfer")
    assert spec.input.encoding == "utf-8"
    assert spec.actions() == [spec.action]
    assert spec.fields["amount"].credit_values == ["C", "CR", "CREDIT", "H", "+"]


def money(**changes: object) -> dict[str, object]:
    return {**FIELDS, "amount": {"column": "Amount", "type": "money", **changes}}


NO_ACTION: dict[str, Any] = {"action": None}
ROUTE = {"type": "close_invoice", "params": {"invoice_id": "invoice_id"}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (job(colour="red"), "colour: unknown key"),
        (job(fields={**FIELDS, "invoice_id": {"colum": "Invoice"}}),
         "fields.invoice_id.colum: unknown key"),
        (job(input={"skip_lines": "two"}),
         "input.skip_lines: Input should be a valid integer, unable to parse string as an "
         "integer"),
        (job(name=None), "name: field required"),
        (job(filters=[{"column": "Type", "equals": "DEB"}]), "filters.0.reason: field required"),
        (job(fields={**FIELDS, "invoice_id": {"regex": "INV"}}),
         "fields.invoice_id: give exactly one of column, columns, const, template (or "
         "credit_column/debit_column for money); found: none"),
        (job(fields={**FIELDS, "invoice_id": {"column": "Memo", "regex": "(INV"}}),
         "fields.invoice_id.regex: regex does not compile: missing ): (INV"),
        (job(fields={**FIELDS, "invoice_id": {"column": "Memo", "regex": r"(\w)\1"}}),
         "fields.invoice_id.regex: regex does not compile: invalid escape sequence: \\1 (a "
         "backreference \\1 is not supported: batchpay runs regexes with RE2, which takes time "
         "linear in the text and so cannot look around or refer back)"),
        (job(filters=[{"column": "Memo", "matches": "NW(?=-)", "reason": "r"}]),
         "filters.0.matches: regex does not compile: invalid perl operator: (?= (lookahead "
         "(?=...) is not supported: batchpay runs regexes with RE2, which takes time linear in "
         "the text and so cannot look around or refer back)"),
        (job(fields=money()),
         "fields.amount: a money field needs 'currency' (e.g. EUR) or 'currency_field'"),
        (job(fields=money(currency_field="cur")),
         "fields.amount.currency_field: no field named 'cur'; the job defines invoice_id, amount"),
        (job(fields={**FIELDS, "paid": {"credit_column": "In"}}),
         "fields.paid: credit_column/debit_column need type: money"),
        (job(fields=money(currency="EUR", sign_column="DC", credit_values=["C", "d "])),
         "fields.amount: debit_values and credit_values share D"),
        (job(fields={**FIELDS, "on": {"column": "Date", "type": "date"}}),
         "fields.on: a date field needs 'formats' (e.g. ['%d/%m/%Y']) or excel_serial"),
        (job(fields={}), "fields: declare at least one field"),
        (job(input={"header": False}),
         "input: a file without a header (header: false) needs 'columns'"),
        (job(api_version="v1", action={"type": "apply_payments",
                                       "params": {"invoice_id": "invoice_id"}}),
         "action.type: apply_payments does not exist in Chargebee API v1; use api_version: v2 "
         "or another action"),
        (job(action=CHARGE),
         'action.type: charge on API v2 depends on the site\'s Product Catalog: set '
         'product_catalog: "1.0" (POST /invoices/charge) or "2.0" '
         "(POST /invoices/create_for_charge_items_and_charges)"),
        (job(action=None, routes=[{"action": ACTION}, {"action": CHARGE}]),
         "routes.1.action.type: charge on API v2 depends on the site's Product Catalog: set "
         'product_catalog: "1.0" (POST /invoices/charge) or "2.0" '
         "(POST /invoices/create_for_charge_items_and_charges)"),
        (job(api_version="v1", product_catalog="2.0"),
         "product_catalog: Chargebee API v1 serves Product Catalog 1.0 sites only; "
         "use api_version: v2"),
        (job(product_catalog=3),
         "product_catalog: Input should be '1.0' or '2.0'"),
        (job(action={**ACTION, "params": {**ACTION["params"], "invoice_id": "invoice"}}),
         "action.params.invoice_id: no field named 'invoice'; the job defines invoice_id, "
         "amount"),
        (job(action={**ACTION, "business_key": ["bank_ref"]}),
         "action.business_key: no field named 'bank_ref'; the job defines invoice_id, amount"),
        (job(action={"type": "record_payment", "params": {"invoice_id": "invoice_id"}}),
         "action: record_payment needs parameter payment_method"),
        (job(action={**ACTION, "params": {**ACTION["params"], "colour": "amount"}}),
         "action: record_payment has no parameter colour; known: invoice_id, "
         "amount, payment_method, reference_number, date, comment, custom_payment_method_id, "
         "id_at_gateway"),
        (job(action={"type": "refund", "params": {}}),
         "action.type: Input should be 'record_payment', 'collect_payment', 'apply_payments', "
         "'close_invoice' or 'charge'"),
        (job(filters=[{"field": "amonut", "le": 0, "reason": "debit"}]),
         "filters.0.field: no field named 'amonut'; the job defines invoice_id, amount"),
        (job(filters=[{"column": "Amount", "le": 0, "reason": "debit"}]),
         "filters.0: gt/lt/ge/le compare parsed values: use 'field', not 'column'"),
        (job(routes=[{"action": ROUTE}]), "give exactly one of 'action' or 'routes'"),
        (job(**NO_ACTION), "give exactly one of 'action' or 'routes'"),
        (job(action=None, routes=[{"when": {"column": "Type"}, "action": ROUTE}]),
         "routes.0.when: a condition needs a test: one of equals, one_of, "
         "matches, empty, gt, lt, ge, le"),
        (job(action=None, routes=[{"when": {"field": "kind", "equals": "X"}, "action": ROUTE}]),
         "routes.0.when.field: no field named 'kind'; the job defines invoice_id, amount"),
        (job(action=None, routes=[{"action": {**ROUTE, "params": {"invoice_id": "inv"}}}]),
         "routes.0.action.params.invoice_id: no field named 'inv'; the job defines "
         "invoice_id, amount"),
    ],
)
def test_spec_errors_name_file_and_key_path(
    write_job: WriteJob, data: dict[str, object], message: str
) -> None:
    path = write_job(data)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value).splitlines()[0] == f"{path}: {message}"


def test_every_error_is_listed(write_job: WriteJob) -> None:
    path = write_job(job(colour="red", input={"delimiter": ";;"}))
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value).splitlines() == [
        f"{path}: input.delimiter: String should have at most 1 character",
        f"{path}: colour: unknown key",
    ]


def test_routes(write_job: WriteJob) -> None:
    routes = [
        {"when": {"column": "Type", "equals": "CLOSE"}, "action": ROUTE},
        {"action": ACTION},
    ]
    spec = load_spec(write_job(job(action=None, routes=routes)))
    assert [a.type for a in spec.actions()] == ["close_invoice", "record_payment"]


def test_no_such_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value) == f"{path}: no such job spec"


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("name: x\nfields: [a\n", encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value).startswith(f"{path}: line 3 not valid YAML: ")


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    """Issue 12 item 17: PyYAML kept the last of two equal keys, so a second ``reference:``
    silently replaced the first."""
    path = tmp_path / "job.yaml"
    path.write_text(
        "name: x\n"
        "fields:\n"
        "  invoice_id: {column: Invoice}\n"
        "  reference: {column: Reference}\n"
        "  reference: {column: Memo}\n"
        "action: {type: close_invoice, params: {invoice_id: invoice_id}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value) == (
        f"{path}: line 5: key 'reference' is given twice (first on line 4); keep one"
    )


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        "name: x\n"
        "fields:\n"
        "  invoice_id: &text {column: Invoice, required: false}\n"
        "  memo: {<<: *text, column: Memo}\n"
        "action: {type: close_invoice, params: {invoice_id: invoice_id}}\n",
        encoding="utf-8",
    )
    memo = load_spec(path).fields["memo"]
    assert (memo.column, memo.required) == ("Memo", False)


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("- name: x\n", encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value) == (
        f"{path}: a job spec is a YAML mapping (name:, fields:, action: ...)"
    )


def test_a_hash_in_a_column_name_must_be_quoted(write_job: WriteJob) -> None:
    path = write_job(job())
    path.write_text(path.read_text().replace("column: Invoice", 'column: "Check #"'))
    assert load_spec(path).fields["invoice_id"].column == "Check #"


def test_schema_is_checked_when_the_spec_loads(write_job: WriteJob) -> None:
    path = write_job(job(schema="cheque_log"))
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value) == (
        f"{path}: schema: 'cheque_log' needs field(s) cheque_number, date; "
        "the job defines invoice_id, amount"
    )


@pytest.mark.parametrize(("written", "read"), [("2.0", "2.0"), (2, "2.0"), (2.0, "2.0"),
                                               ("2", "2.0"), (1, "1.0"), ("1.0", "1.0")])
def test_product_catalog_as_text_or_number(write_job: WriteJob, written: object,
                                           read: str) -> None:
    assert load_spec(write_job(job(action=CHARGE, product_catalog=written))).product_catalog == read


def test_v1_charge_needs_no_product_catalog(write_job: WriteJob) -> None:
    assert load_spec(write_job(job(api_version="v1", action=CHARGE))).product_catalog is None
