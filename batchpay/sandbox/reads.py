"""The read endpoints: retrieve one document, or list with Chargebee's filters and paging."""

from __future__ import annotations

import re
from typing import Any

from batchpay.sandbox import errors
from batchpay.sandbox.params import parse_list
from batchpay.sandbox.resources import render
from batchpay.sandbox.store import Doc, SandboxStore

_FILTER = re.compile(r"^(\w+)\[(\w+)\]$")
_NOT_FILTERS = ("limit", "offset", "include_deleted", "line_items_limit", "line_items_offset")
_IGNORED = ("sort_by", "exclude", "einvoice")
DEFAULT_LIMIT = 10


def retrieve(store: SandboxStore, kind: str, ident: str, version: str) -> dict[str, Any]:
    doc = store.customer(ident) if kind == "customer" else store.invoice(ident)
    if doc is None:
        raise errors.not_found(kind.capitalize(), ident)
    return {kind: render(kind, doc, version)}


def list_invoices(store: SandboxStore, params: dict[str, Any], version: str) -> dict[str, Any]:
    ids = params.get("id[in]") or ([params["id[is]"]] if "id[is]" in params else None)
    statuses = params.get("status[in]") or (
        [params["status[is]"]] if "status[is]" in params else None
    )
    docs = store.invoices(ids=ids, customer_id=params.get("customer_id[is]"), statuses=statuses)
    return page("invoice", docs, params, version)


def customer_invoices(
    store: SandboxStore, customer_id: str, params: dict[str, Any], version: str
) -> dict[str, Any]:
    """``GET /customers/{id}/invoices`` (API v1): the customer's invoices, latest first."""
    if store.customer(customer_id) is None:
        raise errors.not_found("Customer", customer_id)
    docs = list(reversed(store.invoices(customer_id=customer_id)))
    return page("invoice", docs, params, version)


def list_transactions(store: SandboxStore, params: dict[str, Any], version: str) -> dict[str, Any]:
    docs = store.transactions(params.get("customer_id[is]"))
    return page("transaction", docs, params, version)


def page(kind: str, docs: list[Doc], params: dict[str, Any], version: str) -> dict[str, Any]:
    docs = _sorted([d for d in docs if _matches_all(d, params)], params)
    start = _offset(params.get("offset"))
    limit = params.get("limit", DEFAULT_LIMIT)
    shown = docs[start : start + limit]
    body: dict[str, Any] = {"list": [{kind: render(kind, d, version)} for d in shown]}
    if start + limit < len(docs):
        body["next_offset"] = str(start + limit)
    return body


def _offset(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit():
        raise errors.param_wrong_value("offset", "is not a next_offset this sandbox returned")
    return int(raw)


def _sorted(docs: list[Doc], params: dict[str, Any]) -> list[Doc]:
    for order in ("asc", "desc"):
        field = params.get(f"sort_by[{order}]")
        if field:
            return sorted(docs, key=lambda d: d.get(field, 0), reverse=order == "desc")
    return docs


def _matches_all(doc: Doc, params: dict[str, Any]) -> bool:
    for key, value in params.items():
        if key in _NOT_FILTERS or key.startswith(_IGNORED) or key.startswith("cf_"):
            continue
        if key == "paid_on_after":  # v1's only invoice filter
            field, op, value = "paid_at", "after", str(value)
        else:
            match = _FILTER.match(key)
            if match is None:
                continue
            field, op = match[1], match[2]
        if not matches(doc.get(field), op, value, key):
            return False
    return True


def matches(actual: Any, op: str, value: Any, key: str) -> bool:
    """One Chargebee filter (string, number, timestamp or boolean operators)."""
    if op == "is_present":
        return (actual is not None) == (value == "true")
    if actual is None:
        return op in ("is_not", "not_in")
    text = _text(actual)
    if op in ("is", "is_not"):
        return (text == str(value)) == (op == "is")
    if op in ("in", "not_in"):
        return (text in value) == (op == "in")
    if op == "starts_with":
        return text.startswith(str(value))
    return _compare(actual, op, value, key)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _compare(actual: Any, op: str, value: Any, key: str) -> bool:
    try:
        bounds = (
            [int(v) for v in (value if isinstance(value, list) else parse_list(key, value))]
            if op == "between"
            else [int(value)]
        )
    except ValueError:
        raise errors.param_wrong_value(key, "must be a number") from None
    number = int(actual)
    if op == "between":
        if len(bounds) != 2:
            raise errors.param_wrong_value(key, "needs two values")
        return bounds[0] <= number <= bounds[1]
    checks = {
        "lt": number < bounds[0],
        "lte": number <= bounds[0],
        "gt": number > bounds[0],
        "gte": number >= bounds[0],
        "before": number < bounds[0],
        "after": number > bounds[0],
        "on": number // 86400 == bounds[0] // 86400,
    }
    if op not in checks:
        raise errors.param_wrong_value(key, f"operator {op} is not supported")
    return checks[op]
