"""Build and render the Invoice, Transaction and Customer documents, shaped like the spec's schemas.

Documents are stored as they are served; keys starting with ``_`` are sandbox-only and are
stripped by :func:`public`.
"""

from __future__ import annotations

from typing import Any

OPEN_STATUSES = ("payment_due", "posted", "not_paid")
GATEWAY_OFFLINE = "not_applicable"
GATEWAY_ONLINE = "chargebee"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if not key.startswith("_")}


def render(kind: str, doc: dict[str, Any], version: str) -> dict[str, Any]:
    """``doc`` (stored in the v2 shape) as API ``version`` serves a ``kind`` (invoice,
    transaction or customer): v1 has other names (``amount``, ``linked_transactions``,
    ``paid_on``) and far fewer fields (no currency, channel or payment source on a customer)."""
    if version == "v2":
        return public(doc)
    return _V1_VIEWS[kind](doc)


def _pick(doc: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: doc[name] for name in names if name in doc}


_V1_INVOICE = (
    "id", "customer_id", "subscription_id", "recurring", "status", "po_number", "vat_number",
    "price_type", "currency_code", "tax", "sub_total", "amount_due", "amount_adjusted",
    "amount_paid", "credits_applied", "first_invoice",
)
_V1_LINE_ITEM = (
    "date_from", "date_to", "unit_amount", "quantity", "amount", "is_taxed", "description",
    "entity_type", "entity_id",
)
_V1_TRANSACTION = (
    "id", "customer_id", "subscription_id", "payment_method", "reference_number", "gateway",
    "type", "date", "currency_code", "amount", "id_at_gateway", "status", "error_code",
    "error_text", "voided_at", "amount_unused", "masked_card_number", "linked_refunds",
)
_V1_CUSTOMER = (
    "id", "first_name", "last_name", "email", "phone", "company", "vat_number",
    "auto_collection", "allow_direct_debit", "created_at", "taxability", "refundable_credits",
    "excess_payments",
)


def v1_status(status: str) -> str:
    """API v1 has no ``posted`` status: an invoice closed but not yet due is ``payment_due``
    there, and v1's rules apply to it as to any payment_due invoice."""
    return "payment_due" if status == "posted" else status


def _v1_invoice(doc: dict[str, Any]) -> dict[str, Any]:
    view = _pick(doc, _V1_INVOICE)
    view["status"] = v1_status(doc["status"])
    view["amount"] = doc["total"]
    view["start_date"] = view["end_date"] = doc["date"]
    if "paid_at" in doc:
        view["paid_on"] = doc["paid_at"]
    view["line_items"] = [
        {**_pick(item, _V1_LINE_ITEM), "tax": item.get("tax_amount", 0), "type": "charge"}
        for item in doc["line_items"]
    ]
    view["linked_transactions"] = [
        {**_pick(p, ("txn_id", "applied_amount", "applied_at", "txn_status", "txn_date",
                     "txn_amount")), "txn_type": "payment"}
        for p in doc["linked_payments"]
    ]
    return view


def _v1_transaction(doc: dict[str, Any]) -> dict[str, Any]:
    view = _pick(doc, _V1_TRANSACTION)
    view["linked_invoices"] = [
        {**_pick(link, ("invoice_id", "applied_amount", "applied_at", "invoice_date")),
         "invoice_amount": link["invoice_total"]}
        for link in doc["linked_invoices"]
    ]
    return view


def _v1_customer(doc: dict[str, Any]) -> dict[str, Any]:
    view = _pick(doc, _V1_CUSTOMER)
    view["account_credits"] = doc.get("promotional_credits", 0)
    if "payment_method" in doc:
        view["payment_method"] = _pick(
            doc["payment_method"], ("type", "gateway", "status", "reference_id")
        )
    return view


_V1_VIEWS = {"invoice": _v1_invoice, "transaction": _v1_transaction, "customer": _v1_customer}


def touch(doc: dict[str, Any], now: float) -> None:
    """Bump ``updated_at`` and ``resource_version`` (milliseconds, strictly increasing)."""
    doc["updated_at"] = int(now)
    doc["resource_version"] = max(doc.get("resource_version", 0) + 1, int(now * 1000))


def line_item(
    invoice_id: str, customer_id: str, index: int, item: dict[str, Any], date: int
) -> dict:
    amount = int(item.get("amount", 0))
    return {
        "id": item.get("id", f"li_{invoice_id}_{index}"),
        "date_from": int(item.get("date_from", date)),
        "date_to": int(item.get("date_to", date)),
        "unit_amount": amount,
        "quantity": 1,
        "amount": amount,
        "pricing_model": "flat_fee",
        "is_taxed": False,
        "tax_amount": 0,
        "discount_amount": 0,
        "item_level_discount_amount": 0,
        "description": str(item.get("description", "One-time charge")),
        "entity_type": "adhoc",
        "customer_id": customer_id,
    }


def new_invoice(
    *,
    invoice_id: str,
    customer_id: str,
    currency_code: str,
    status: str,
    total: int,
    date: int,
    now: float,
    amount_due: int | None = None,
    amount_paid: int | None = None,
    due_date: int | None = None,
    line_items: list[dict[str, Any]] | None = None,
    channel: str = "web",
) -> dict[str, Any]:
    paid = amount_paid if amount_paid is not None else (total if status == "paid" else 0)
    if amount_due is None:
        amount_due = 0 if status in ("paid", "voided") else total - paid
    items = line_items if line_items is not None else [{"amount": total}]
    doc: dict[str, Any] = {
        "id": invoice_id,
        "customer_id": customer_id,
        "recurring": False,
        "status": status,
        "price_type": "tax_exclusive",
        "date": date,
        "due_date": due_date if due_date is not None else date,
        "generated_at": date,
        "net_term_days": 0,
        "exchange_rate": 1.0,
        "currency_code": currency_code,
        "tax": 0,
        "sub_total": total,
        "total": total,
        "amount_due": amount_due,
        "amount_paid": paid,
        "amount_adjusted": 0,
        "write_off_amount": 0,
        "credits_applied": 0,
        "round_off_amount": 0,
        "first_invoice": False,
        "has_advance_charges": False,
        "term_finalized": True,
        "is_gifted": False,
        "deleted": False,
        "channel": channel,
        "line_items": [
            line_item(invoice_id, customer_id, i, it, date) for i, it in enumerate(items)
        ],
        "linked_payments": [],
        "applied_credits": [],
        "issued_credit_notes": [],
        "adjustment_credit_notes": [],
    }
    if status == "paid":
        doc["paid_at"] = date
    if status == "voided":
        doc["voided_at"] = date
    set_amount_to_collect(doc)
    touch(doc, now)
    return doc


def set_amount_to_collect(invoice: dict[str, Any]) -> None:
    collectable = invoice["status"] in (*OPEN_STATUSES, "pending")
    invoice["amount_to_collect"] = invoice["amount_due"] if collectable else 0


def new_transaction(
    *,
    txn_id: str,
    customer_id: str,
    currency_code: str,
    amount: int,
    date: int,
    now: float,
    payment_method: str,
    amount_unused: int = 0,
    reference_number: str | None = None,
    status: str = "success",
    gateway: str = GATEWAY_OFFLINE,
    payment_source_id: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": txn_id,
        "customer_id": customer_id,
        "payment_method": payment_method,
        "gateway": gateway,
        "type": "payment",
        "date": date,
        "currency_code": currency_code,
        "exchange_rate": 1.0,
        "amount": amount,
        "amount_unused": amount_unused,
        "status": status,
        "deleted": False,
        "linked_invoices": [],
        "linked_credit_notes": [],
        "linked_refunds": [],
    }
    if reference_number is not None:
        doc["reference_number"] = reference_number
    if payment_source_id is not None:
        doc["payment_source_id"] = payment_source_id
    touch(doc, now)
    return doc


def new_customer(
    *,
    customer_id: str,
    currency_code: str,
    created_at: int,
    now: float,
    payment_sources: list[dict[str, Any]],
    auto_collection: str = "off",
    channel: str = "web",
    excess_payments: int = 0,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": customer_id,
        "auto_collection": auto_collection,
        "net_term_days": 0,
        "allow_direct_debit": False,
        "created_at": created_at,
        "taxability": "taxable",
        "channel": channel,
        "preferred_currency_code": currency_code,
        "excess_payments": excess_payments,
        "promotional_credits": 0,
        "refundable_credits": 0,
        "unbilled_charges": 0,
        "deleted": False,
        "_payment_sources": payment_sources,
    }
    if payment_sources:
        doc["primary_payment_source_id"] = payment_sources[0]["id"]
        doc["payment_method"] = {
            "type": "card",
            "reference_id": payment_sources[0]["id"],
            "gateway": GATEWAY_ONLINE,
            "gateway_account_id": "gw_sandbox",
            "status": "valid",
        }
    touch(doc, now)
    return doc


def link(invoice: dict[str, Any], txn: dict[str, Any], applied: int, now: float) -> None:
    """Record ``applied`` of ``txn`` against ``invoice`` on both documents."""
    invoice["linked_payments"].append(
        {
            "txn_id": txn["id"],
            "applied_amount": applied,
            "applied_at": int(now),
            "txn_status": txn["status"],
            "txn_date": txn["date"],
            "txn_amount": txn["amount"],
        }
    )
    txn["linked_invoices"].append(
        {
            "invoice_id": invoice["id"],
            "applied_amount": applied,
            "applied_at": int(now),
            "invoice_date": invoice["date"],
            "invoice_total": invoice["total"],
            "invoice_status": invoice["status"],
        }
    )
