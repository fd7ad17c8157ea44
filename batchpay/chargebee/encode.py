"""Encoders: one action's canonical parameters → one Chargebee HTTP request, per API version.

Parameter names are batchpay's version-independent ones (``batchpay.spec.ACTION_PARAMS``); the
tables below (:data:`OPERATIONS`) map each to its wire name and carry the spec's constraints
(type, enum, maxLength, minimum, required), copied from ``shared/chargebee/`` and checked against
those OpenAPI files by ``tests/test_encode.py``.

Values: ``str``, ``int`` (money in minor units, dates as unix seconds), ``bool``; ``None`` or
``""`` means "not given" and is omitted. A value the action/version cannot take raises
:class:`EncodeError` naming the parameter. Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Literal
from urllib.parse import quote

from batchpay.errors import PlanError

__all__ = [
    "CATALOG_2_OPERATIONS",
    "OPERATIONS",
    "EncodeError",
    "Field",
    "Operation",
    "Request",
    "encode",
    "list_invoices_request",
    "list_transactions_request",
    "path_segment",
    "retrieve_request",
]

Version = Literal["v1", "v2"]
Kind = Literal["text", "int", "bool"]

MAX_LIST_LIMIT = 100  # limit: 1..100 on every list endpoint [V1SPEC], [V2PC2]


@dataclass(frozen=True)
class Request:
    """One HTTP request, version-relative. GET requests carry their query in ``form``."""

    method: Literal["GET", "POST"]
    path: str
    form: tuple[tuple[str, str], ...]
    invoice_id: str | None


class EncodeError(PlanError):
    """A value the action/version cannot take; ``param`` is the canonical parameter name."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Field:
    """One form field: canonical name → wire name, with the spec's constraints."""

    name: str
    wire: str
    kind: Kind = "text"
    max_length: int | None = None
    minimum: int | None = None
    enum: tuple[str, ...] | None = None
    required: bool = False

    @cached_property
    def label(self) -> str:
        """How messages name the field: ``amount (transaction[amount])``."""
        return f"{self.name} ({self.wire})"


@dataclass(frozen=True)
class Operation:
    """One endpoint as an action/version uses it. ``spec_path`` is the path key in the spec."""

    action: str
    version: Version
    spec_path: str
    fields: tuple[Field, ...]

    @property
    def on_invoice(self) -> bool:
        return "{invoice-id}" in self.spec_path

    @cached_property
    def known_names(self) -> frozenset[str]:
        """The canonical parameters this endpoint takes in this version."""
        known = {f.name for f in self.fields} | {"invoice_id"}
        if self.action == "apply_payments":
            known |= {"transactions", "transaction_id", "amount"}
        return frozenset(known)


_INITIATORS = ("customer", "merchant")
_V2_OFFLINE_METHODS = (
    "cash", "check", "bank_transfer", "other", "custom", "tamara", "qpay", "blik", "fpx", "wero",
    "p24",
)
_V1_METHODS = ("cash", "check", "bank_transfer", "direct_debit", "other")

# apply_payments' transactions are column-wise arrays; these describe one column each.
APPLY_TXN_ID = Field("transaction_id", "transactions[id]", max_length=40)
APPLY_TXN_AMOUNT = Field("amount", "transactions[amount]", kind="int", minimum=0)

OPERATIONS: dict[tuple[str, Version], Operation] = {
    (op.action, op.version): op
    for op in (
        Operation("record_payment", "v2", "/invoices/{invoice-id}/record_payment", (
            Field("amount", "transaction[amount]", kind="int", minimum=0),
            Field("payment_method", "transaction[payment_method]", enum=_V2_OFFLINE_METHODS,
                  required=True),
            Field("reference_number", "transaction[reference_number]", max_length=100),
            Field("custom_payment_method_id", "transaction[custom_payment_method_id]",
                  max_length=50),
            Field("id_at_gateway", "transaction[id_at_gateway]", max_length=100),
            Field("date", "transaction[date]", kind="int"),
            Field("comment", "comment", max_length=300),
        )),
        Operation("record_payment", "v1", "/invoices/{invoice-id}/record_payment", (
            Field("amount", "amount", kind="int", minimum=1),
            Field("payment_method", "payment_method", enum=_V1_METHODS, required=True),
            Field("date", "paid_at", kind="int", required=True),
            Field("reference_number", "reference_number", max_length=100),
            Field("comment", "memo", max_length=300),
        )),
        Operation("collect_payment", "v2", "/invoices/{invoice-id}/collect_payment", (
            Field("amount", "amount", kind="int", minimum=1),
            Field("payment_source_id", "payment_source_id", max_length=40),
            Field("comment", "comment", max_length=300),
            Field("payment_initiator", "payment_initiator", enum=_INITIATORS),
        )),
        Operation("collect_payment", "v1", "/invoices/{invoice-id}/collect_payment", (
            Field("amount", "amount", kind="int", minimum=1),
        )),
        Operation("apply_payments", "v2", "/invoices/{invoice-id}/apply_payments", (
            Field("comment", "comment", max_length=300),
        )),
        Operation("close_invoice", "v2", "/invoices/{invoice-id}/close", (
            Field("comment", "comment", max_length=300),
            Field("invoice_note", "invoice_note", max_length=2000),
            Field("remove_general_note", "remove_general_note", kind="bool"),
            Field("invoice_date", "invoice_date", kind="int"),
        )),
        Operation("close_invoice", "v1", "/invoices/{invoice-id}/collect", ()),
        Operation("charge", "v2", "/invoices/charge", (
            Field("customer_id", "customer_id", max_length=50),
            Field("subscription_id", "subscription_id", max_length=50),
            Field("currency_code", "currency_code", max_length=3),
            Field("amount", "amount", kind="int", minimum=1),
            Field("description", "description", max_length=250, required=True),
            Field("date_from", "date_from", kind="int"),
            Field("date_to", "date_to", kind="int"),
            Field("coupon", "coupon_ids[0]", max_length=100),
            Field("po_number", "po_number", max_length=100),
            Field("invoice_date", "invoice_date", kind="int"),
            Field("payment_source_id", "payment_source_id", max_length=40),
            Field("payment_initiator", "payment_initiator", enum=_INITIATORS),
        )),
        Operation("charge", "v1", "/invoices/charge", (
            Field("customer_id", "customer_id", max_length=50),
            Field("subscription_id", "subscription_id", max_length=50),
            Field("amount", "amount", kind="int", minimum=1),
            Field("description", "description", max_length=250, required=True),
            Field("coupon", "coupon", max_length=100),
            Field("po_number", "po_number", max_length=100),
        )),
    )
}

# Product Catalog 2.0 sites have no POST /invoices/charge in API v2 [V2PC2]: a one-time charge
# is an invoice with one ad-hoc charge line. The parameters are the same; those of the line move
# into the column-wise array charges[...][0]. The spec requires none of them, but a charge
# without a description is refused here as on 1.0 sites: the invoice line would say nothing.
_CHARGE_LINE = ("amount", "description", "date_from", "date_to")
CATALOG_2_OPERATIONS: dict[tuple[str, Version], Operation] = {
    ("charge", "v2"): Operation(
        "charge", "v2", "/invoices/create_for_charge_items_and_charges",
        tuple(
            replace(f, wire=f"charges[{f.name}][0]") if f.name in _CHARGE_LINE else f
            for f in OPERATIONS[("charge", "v2")].fields
        ),
    ),
}

# Canonical names each action accepts in any version (ACTION_PARAMS plus the grouped forms).
_ACCEPTED: dict[str, frozenset[str]] = {
    "record_payment": frozenset({
        "invoice_id", "amount", "payment_method", "reference_number", "date", "comment",
        "custom_payment_method_id", "id_at_gateway",
    }),
    "collect_payment": frozenset({
        "invoice_id", "amount", "payment_source_id", "comment", "payment_initiator",
    }),
    "apply_payments": frozenset({"invoice_id", "transactions", "transaction_id", "amount",
                                 "comment"}),
    "close_invoice": frozenset({
        "invoice_id", "comment", "invoice_note", "remove_general_note", "invoice_date",
    }),
    "charge": frozenset({
        "customer_id", "subscription_id", "currency_code", "amount", "description", "po_number",
        "date_from", "date_to", "invoice_date", "payment_source_id", "payment_initiator",
        "coupon",
    }),
}


def _given(value: object) -> bool:
    return value is not None and value != ""


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def path_segment(value: str, *, param: str = "id") -> str:
    """``value`` as one path segment that can never reach another endpoint.

    ``quote(value, safe="")`` encodes ``/``, ``%``, ``?``, ``#``, spaces and non-ASCII; a segment of
    only dots (``.``/``..``) is encoded too, since URL parsers resolve those as dot-segments.
    """
    if not isinstance(value, str) or value == "":
        raise EncodeError(f"{param} must be a non-empty text, got {value!r}", param=param)
    # the usual invoice id has only characters quote() keeps as they are
    segment = value if _UNRESERVED.fullmatch(value) else quote(value, safe="")
    if set(segment) == {"."}:
        segment = segment.replace(".", "%2E")
    return segment


def _text(field: Field, value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EncodeError(f"{where} must be text, got {value!r}", param=field.name)
    text = str(value)
    if field.max_length is not None and len(text) > field.max_length:
        raise EncodeError(
            f"{where} is {len(text)} characters; Chargebee allows at most {field.max_length}",
            param=field.name,
        )
    if field.enum is not None and text not in field.enum:
        raise EncodeError(
            f"{where} {text!r} is not accepted here; one of: {', '.join(field.enum)}",
            param=field.name,
        )
    return text


def _integer(field: Field, value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncodeError(f"{where} must be an integer, got {value!r}", param=field.name)
    if field.minimum is not None and value < field.minimum:
        raise EncodeError(
            f"{where} is {value}; Chargebee requires at least {field.minimum}", param=field.name
        )
    return str(value)


def _boolean(field: Field, value: object, where: str) -> str:
    if not isinstance(value, bool):
        raise EncodeError(f"{where} must be true or false, got {value!r}", param=field.name)
    return "true" if value else "false"


_CONVERT = {"text": _text, "int": _integer, "bool": _boolean}


def _wire_value(field: Field, value: object, where: str) -> str:
    return _CONVERT[field.kind](field, value, where)


@lru_cache(maxsize=64)
def _operation(action: str, version: str, catalog: str | None = None) -> Operation:
    if action not in _ACCEPTED:
        raise EncodeError(
            f"unknown action {action!r}; one of: {', '.join(_ACCEPTED)}", param="action"
        )
    if version not in ("v1", "v2"):
        raise EncodeError(f"unknown API version {version!r}; v1 or v2", param="api_version")
    key: tuple[str, Version] = (action, version)  # type: ignore[assignment]
    op = CATALOG_2_OPERATIONS.get(key) if catalog == "2.0" else None
    op = op or OPERATIONS.get(key)
    if op is None:
        raise EncodeError(
            f"{action} does not exist in Chargebee API {version}", param="action"
        )
    return op


def _check_names(op: Operation, given: Mapping[str, object]) -> None:
    if given.keys() <= op.known_names & _ACCEPTED[op.action]:  # the usual call: all fine
        return
    accepted = _ACCEPTED[op.action]
    for name in given:
        if name not in accepted:
            raise EncodeError(
                f"{op.action} has no parameter {name!r}; known: {', '.join(sorted(accepted))}",
                param=name,
            )
    known = op.known_names
    for name in given:
        if name not in known:
            if op.version == "v1" and op.action == "close_invoice":
                raise EncodeError(
                    f"close_invoice in API v1 (POST /invoices/{{id}}/collect) takes no "
                    f"parameters; {name!r} was given",
                    param=name,
                )
            raise EncodeError(
                f"{op.action} in Chargebee API {op.version} has no parameter {name!r}",
                param=name,
            )


def _fields(op: Operation, given: Mapping[str, object]) -> list[tuple[str, str]]:
    form: list[tuple[str, str]] = []
    for field in op.fields:
        value = given.get(field.name)  # given holds no empty value
        if value is None:
            if field.required:
                raise EncodeError(
                    f"{op.action} in Chargebee API {op.version} requires {field.name} "
                    f"(sent as {field.wire})",
                    param=field.name,
                )
            continue
        if type(value) is str and field.kind == "text" and (
            field.max_length is None or len(value) <= field.max_length
        ) and (field.enum is None or value in field.enum):
            form.append((field.wire, value))  # what _text gives it, without the walk
            continue
        if type(value) is int and field.kind == "int" and (
            field.minimum is None or value >= field.minimum
        ):
            form.append((field.wire, str(value)))  # what _integer gives it
            continue
        form.append((field.wire, _wire_value(field, value, field.label)))
    return form


def _transactions(given: Mapping[str, object]) -> list[tuple[object, object]]:
    grouped = given.get("transactions")
    single = given.get("transaction_id")
    if _given(grouped) and (_given(single) or _given(given.get("amount"))):
        raise EncodeError(
            "apply_payments takes either transactions or transaction_id/amount, not both",
            param="transactions",
        )
    if _given(single):
        return [(single, given.get("amount"))]
    if _given(given.get("amount")):
        raise EncodeError("apply_payments: amount needs a transaction_id", param="amount")
    if not _given(grouped):
        return []
    if isinstance(grouped, str | bytes) or not isinstance(grouped, Sequence):
        raise EncodeError(
            "transactions must be a list of (transaction_id, amount) pairs", param="transactions"
        )
    pairs: list[tuple[object, object]] = []
    for item in grouped:
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
            raise EncodeError(
                f"transactions: each item is (transaction_id, amount), got {item!r}",
                param="transactions",
            )
        pairs.append((item[0], item[1]))
    return pairs


def _apply_payments_form(given: Mapping[str, object]) -> list[tuple[str, str]]:
    ids: list[tuple[str, str]] = []
    amounts: list[tuple[str, str]] = []
    for i, (txn_id, amount) in enumerate(_transactions(given)):
        where = f"transactions[{i}]"
        if not _given(txn_id):
            raise EncodeError(f"{where}: transaction_id is required", param="transaction_id")
        ids.append((f"{APPLY_TXN_ID.wire}[{i}]", _text(APPLY_TXN_ID, txn_id, f"{where} id")))
        if _given(amount):
            value = _integer(APPLY_TXN_AMOUNT, amount, f"{where} amount")
            amounts.append((f"{APPLY_TXN_AMOUNT.wire}[{i}]", value))
    return ids + amounts


def _check_combination(op: Operation, given: Mapping[str, object]) -> None:
    if op.action == "charge":
        has_customer = _given(given.get("customer_id"))
        has_subscription = _given(given.get("subscription_id"))
        if has_customer == has_subscription:
            raise EncodeError(
                "charge needs exactly one of customer_id or subscription_id",
                param="customer_id",
            )
        if _given(given.get("currency_code")) and not has_customer:
            raise EncodeError(
                "charge: currency_code applies only with customer_id", param="currency_code"
            )
    if (
        op.action == "record_payment"
        and _given(given.get("custom_payment_method_id"))
        and given.get("payment_method") != "custom"
    ):
        raise EncodeError(
            "record_payment: custom_payment_method_id needs payment_method custom",
            param="custom_payment_method_id",
        )


def encode(
    action: str, version: Version, params: Mapping[str, object], catalog: str | None = None
) -> Request:
    """The request for one call of ``action`` in API ``version`` with canonical ``params``;
    ``catalog`` is the site's Product Catalog version ("2.0" changes how ``charge`` is sent).

    ``apply_payments`` takes ``transactions`` — a list of ``(transaction_id, amount | None)``
    sent column-wise as ``transactions[id][i]`` / ``transactions[amount][i]`` — or a single
    ``transaction_id``/``amount``; with neither, the body has no transactions fields (Chargebee
    applies all of the customer's excess payments).
    """
    op = _operation(action, version, catalog)
    given = {name: value for name, value in params.items()
             if value is not None and value != ""}  # _given, inline: a call per value is slow
    _check_names(op, given)
    _check_combination(op, given)
    invoice_id: str | None = None
    path = op.spec_path
    if op.on_invoice:
        raw = given.get("invoice_id")
        if raw is None:
            raise EncodeError(f"{action} requires invoice_id", param="invoice_id")
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise EncodeError(f"invoice_id must be text, got {raw!r}", param="invoice_id")
        invoice_id = str(raw)
        path = path.replace("{invoice-id}", path_segment(invoice_id, param="invoice_id"))
    form = _fields(op, given)
    if action == "apply_payments":
        form = _apply_payments_form(given) + form
    return Request(method="POST", path=path, form=tuple(form), invoice_id=invoice_id)


def _limit(limit: int) -> str:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {limit!r}")
    return str(limit)


def list_invoices_request(
    ids: Sequence[str], *, offset: str | None = None, limit: int = MAX_LIST_LIMIT
) -> Request:
    """``GET /invoices?id[in]=["a","b"]&limit=..&offset=..`` (API v2 filters).

    ``id[in]`` is JSON-array text, as the official SDK sends it; at most 100 ids per request.
    """
    if isinstance(ids, str):
        raise ValueError("ids is a sequence of invoice ids, not one string")
    if not ids:
        raise ValueError("list_invoices_request needs at least one id")
    if len(ids) > MAX_LIST_LIMIT:
        raise ValueError(f"at most {MAX_LIST_LIMIT} ids per request, got {len(ids)}")
    if not all(isinstance(i, str) and i for i in ids):
        raise ValueError("invoice ids must be non-empty texts")
    form = [
        ("id[in]", json.dumps(list(ids), separators=(",", ":"), ensure_ascii=False)),
        ("limit", _limit(limit)),
    ]
    if offset:
        form.append(("offset", offset))
    return Request(method="GET", path="/invoices", form=tuple(form), invoice_id=None)


def list_transactions_request(
    *,
    reference_number: str | None = None,
    customer_id: str | None = None,
    ids: Sequence[str] | None = None,
    payment_source_id: str | None = None,
    offset: str | None = None,
    limit: int = MAX_LIST_LIMIT,
) -> Request:
    """``GET /transactions?reference_number[is]=..&customer_id[is]=..&id[in]=[..]`` (API v2
    filters); at most 100 ids per request, as JSON-array text like ``list_invoices_request``."""
    form: list[tuple[str, str]] = []
    if ids is not None:
        if isinstance(ids, str) or not ids or len(ids) > MAX_LIST_LIMIT:
            raise ValueError(f"ids is a sequence of 1 to {MAX_LIST_LIMIT} transaction ids")
        if not all(isinstance(i, str) and i for i in ids):
            raise ValueError("transaction ids must be non-empty texts")
        form.append(("id[in]", json.dumps(list(ids), separators=(",", ":"), ensure_ascii=False)))
    if reference_number:
        form.append(("reference_number[is]", reference_number))
    if customer_id:
        form.append(("customer_id[is]", customer_id))
    if payment_source_id:
        form.append(("payment_source_id[is]", payment_source_id))
    form.append(("limit", _limit(limit)))
    if offset:
        form.append(("offset", offset))
    return Request(method="GET", path="/transactions", form=tuple(form), invoice_id=None)


def latest_invoice_request(customer_id: str, version: str) -> Request:
    """The customer's latest invoice: ``GET /customers/{id}/invoices?limit=1`` on API v1 (latest
    first; v1's ``/invoices`` has no filters), ``GET /invoices?customer_id[is]=..`` on v2."""
    if version == "v1":
        path = "/customers/" + path_segment(customer_id, param="customer_id") + "/invoices"
        return Request(method="GET", path=path, form=(("limit", "1"),), invoice_id=None)
    form = (("customer_id[is]", customer_id), ("sort_by[desc]", "date"), ("limit", "1"))
    return Request(method="GET", path="/invoices", form=form, invoice_id=None)


_RETRIEVE_PATHS = {"invoice": "/invoices/", "customer": "/customers/"}


def retrieve_request(kind: Literal["invoice", "customer"], id: str) -> Request:
    """``GET /invoices/{id}`` or ``GET /customers/{id}``, the id percent-encoded."""
    if kind not in _RETRIEVE_PATHS:
        raise ValueError(f"kind must be invoice or customer, got {kind!r}")
    path = _RETRIEVE_PATHS[kind] + path_segment(id, param=f"{kind}_id")
    return Request(method="GET", path=path, form=(), invoice_id=None)
