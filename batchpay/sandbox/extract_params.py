"""Generate ``params.json``: the form and query fields the sandbox accepts, from the specs.

Run ``python -m batchpay.sandbox.extract_params [SPEC_DIR] [OUT]``. SPEC_DIR defaults to
``../shared/chargebee`` beside the repository; OUT defaults to ``params.json`` beside this file.

Each field is keyed by its wire name: nested objects become ``transaction[amount]``, column-wise
arrays ``transactions[id]`` (sent as ``transactions[id][0]``, marked ``"array": true``) and query
filters ``id[in]``. A field carries ``type`` (string, integer, number, boolean, list), and where the
spec gives them ``enum``, ``max_length``, ``min_length``, ``minimum``, ``maximum``, ``pattern``,
``format``, ``required`` (top level) or ``required_in`` (required inside a nested object).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

V1_SPEC = "chargebee_api_v1_spec.json"
V2_SPEC = "chargebee_api_v2_subset.yaml"
DEFAULT_SPEC_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "chargebee"
DEFAULT_OUT = Path(__file__).with_name("params.json")

# The operations the sandbox serves, as (method, spec path).
SERVED: dict[str, list[tuple[str, str]]] = {
    "v1": [
        ("post", "/invoices/{invoice-id}/record_payment"),
        ("post", "/invoices/{invoice-id}/collect_payment"),
        ("post", "/invoices/{invoice-id}/collect"),
        ("post", "/invoices/charge"),
        ("get", "/invoices/{invoice-id}"),
        ("get", "/invoices"),
        ("get", "/transactions"),
        ("get", "/customers/{customer-id}"),
        ("get", "/customers/{customer-id}/invoices"),
    ],
    "v2": [
        ("post", "/invoices/{invoice-id}/record_payment"),
        ("post", "/invoices/{invoice-id}/collect_payment"),
        ("post", "/invoices/{invoice-id}/apply_payments"),
        ("post", "/invoices/{invoice-id}/close"),
        ("post", "/invoices/charge"),
        ("post", "/invoices/create_for_charge_items_and_charges"),
        ("get", "/invoices/{invoice-id}"),
        ("get", "/invoices"),
        ("get", "/transactions"),
        ("get", "/customers/{customer-id}"),
    ],
}

_CONSTRAINTS = {
    "enum": "enum",
    "maxLength": "max_length",
    "minLength": "min_length",
    "minimum": "minimum",
    "maximum": "maximum",
    "pattern": "pattern",
    "format": "format",
}
_LIST_OPERATORS = {"in", "not_in", "between"}


def field_rule(schema: dict[str, Any]) -> dict[str, Any]:
    """The checks for one scalar field."""
    rule: dict[str, Any] = {"type": schema.get("type", "string")}
    for spec_key, our_key in _CONSTRAINTS.items():
        if spec_key in schema:
            rule[our_key] = schema[spec_key]
    return rule


def form_fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Flatten a form body schema into wire names."""
    fields: dict[str, dict[str, Any]] = {}
    for name in schema.get("required", []):
        # v1 charge lists `description` as required without defining it.
        fields[name] = {"type": "string", "required": True}
    for name, prop in schema.get("properties", {}).items():
        fields.update(_property_fields(name, prop))
        if name in schema.get("required", []):
            fields[name]["required"] = True
    return fields


def _property_fields(name: str, prop: dict[str, Any]) -> dict[str, dict[str, Any]]:
    kind = prop.get("type")
    if kind == "array":
        return {name: {**field_rule(prop.get("items", {})), "array": True}}
    if kind != "object":
        return {name: field_rule(prop)}
    fields: dict[str, dict[str, Any]] = {}
    required = set(prop.get("required", []))
    for sub, sub_prop in prop.get("properties", {}).items():
        for wire, rule in _property_fields(f"{name}[{sub}]", sub_prop).items():
            if sub in required:
                rule["required_in"] = name
            fields[wire] = rule
    return fields


def query_fields(parameters: list[dict[str, Any]], components: dict[str, Any]) -> dict[str, Any]:
    """Flatten query parameters; deepObject filters become ``name[operator]``."""
    fields: dict[str, dict[str, Any]] = {}
    for param in parameters:
        param = _resolve(param, components)
        if param.get("in") != "query":
            continue
        schema = param.get("schema", {})
        if schema.get("type") != "object":
            fields[param["name"]] = field_rule(schema)
            continue
        for op, op_schema in schema.get("properties", {}).items():
            rule = field_rule(op_schema)
            if op in _LIST_OPERATORS:
                # The spec's pattern for `in` rejects the quoted JSON arrays its own SDKs send.
                rule = {"type": "list", **({"enum": rule["enum"]} if "enum" in rule else {})}
            fields[f"{param['name']}[{op}]"] = rule
    return fields


def _resolve(param: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = param.get("$ref")
    if not ref:
        return param
    return dict(components["parameters"][ref.rsplit("/", 1)[-1]])


def operation_table(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op = spec["paths"][path][method]
    entry: dict[str, Any] = {"operation_id": op["operationId"]}
    if method == "get":
        entry["fields"] = query_fields(op.get("parameters", []), spec.get("components", {}))
        return entry
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
    entry["fields"] = form_fields(schema)
    entry["additional"] = bool(schema.get("additionalProperties", False))
    return entry


def extract(v1: dict[str, Any], v2: dict[str, Any]) -> dict[str, Any]:
    specs = {"v1": v1, "v2": v2}
    return {
        version: {
            f"{method.upper()} {path}": operation_table(specs[version], method, path)
            for method, path in ops
        }
        for version, ops in SERVED.items()
    }


def load_specs(spec_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    v1 = json.loads((spec_dir / V1_SPEC).read_text(encoding="utf-8"))
    v2 = yaml.safe_load((spec_dir / V2_SPEC).read_text(encoding="utf-8"))
    return v1, v2


def render(table: dict[str, Any]) -> str:
    return json.dumps(table, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec_dir = Path(args[0]) if args else DEFAULT_SPEC_DIR
    out = Path(args[1]) if len(args) > 1 else DEFAULT_OUT
    out.write_text(render(extract(*load_specs(spec_dir))), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
