"""Live checks: read the site's current state in batches and predict each call's outcome.

Invoices are read 100 per request (``id[in]``); so are the transactions already linked to the
invoices a referenced payment goes to (the one case where it may have been recorded before),
matched on reference here;
customers are read once each, for the actions that depend on them. The prediction then walks
the calls in file order on a copy of each invoice, so a second payment on an invoice the first
one pays off is predicted as what Chargebee will do with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batchpay.chargebee.client import ChargebeeClient
from batchpay.money import format_amount
from batchpay.plan import PlannedCall
from batchpay.records import Outcome

PAYABLE = frozenset({"payment_due", "posted", "not_paid"})
V1_RECORDABLE = frozenset({"payment_due", "not_paid"})  # v1 record_payment refuses posted
COLLECTABLE = frozenset({"payment_due", "not_paid"})
CLOSED = frozenset({"posted", "payment_due", "not_paid", "paid"})
STORE_CHANNELS = frozenset({"app_store", "play_store"})


@dataclass(frozen=True)
class Prediction:
    outcome: Outcome  # WOULD_POST, SKIPPED or WOULD_FAIL
    reason: str = ""
    http_status: int | None = None
    api_error_code: str | None = None
    transaction_id: str | None = None  # the earlier transaction, when skipped as recorded


@dataclass
class SiteState:
    invoices: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any] | None]
    references: dict[str, list[dict[str, Any]]]  # reference_number -> transactions
    version: str = "v2"


def post(reason: str = "") -> Prediction:
    return Prediction(Outcome.WOULD_POST, reason)


def skip(reason: str, transaction_id: str | None = None) -> Prediction:
    return Prediction(Outcome.SKIPPED, reason, transaction_id=transaction_id)


def fail(reason: str, status: int | None, code: str) -> Prediction:
    return Prediction(Outcome.WOULD_FAIL, reason, status, code)


async def read_state(
    client: ChargebeeClient, calls: Sequence[PlannedCall], version: str
) -> SiteState:
    invoice_ids = sorted({c.invoice_id for c in calls if c.invoice_id})
    invoices = await _read_invoices(client, invoice_ids, version)
    references = await _read_references(client, calls, invoices, version)
    customer_ids = sorted(_customer_ids(calls, invoices))
    customers = {cid: await client.retrieve_customer(cid) for cid in customer_ids}
    return SiteState(
        invoices=invoices, customers=customers, references=references, version=version
    )


async def _read_invoices(
    client: ChargebeeClient, ids: list[str], version: str
) -> dict[str, dict[str, Any]]:
    if version == "v2":
        return await client.list_invoices(ids)
    found = {}  # API v1 has no id[in] filter: one read per invoice
    for invoice_id in ids:
        invoice = await client.retrieve_invoice(invoice_id)
        if invoice is not None:
            found[invoice_id] = invoice
    return found


async def _read_references(
    client: ChargebeeClient,
    calls: Sequence[PlannedCall],
    invoices: dict[str, dict[str, Any]],
    version: str,
) -> dict[str, list[dict[str, Any]]]:
    """Reference -> the transactions with it that already pay an invoice a referenced payment
    goes to. A payment can have been recorded before only on an invoice that carries payments,
    and the invoice names them (``linked_payments``): those transactions are read 100 per
    request (``id[in]``) and matched on reference here, not looked up one reference at a time
    (``reference_number`` filters only by ``is``/``starts_with``)."""
    if version != "v2":
        return {}
    wanted: set[str] = set()
    txn_ids: set[str] = set()
    for call in calls:
        reference = call.params.get("reference_number")
        linked = invoices.get(call.invoice_id or "", {}).get("linked_payments")
        if call.action == "record_payment" and reference and linked:
            wanted.add(str(reference))
            txn_ids.update(str(p["txn_id"]) for p in linked if p.get("txn_id"))
    if not txn_ids:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for txn in await client.list_transactions(sorted(txn_ids)):
        reference = txn.get("reference_number")
        if reference is not None and str(reference) in wanted:
            found.setdefault(str(reference), []).append(txn)
    return found


def _customer_ids(calls: Sequence[PlannedCall], invoices: dict[str, dict[str, Any]]) -> set[str]:
    ids: set[str] = set()
    for call in calls:
        if call.action == "charge" and call.params.get("customer_id"):
            ids.add(str(call.params["customer_id"]))
        elif call.action in ("collect_payment", "apply_payments") and call.invoice_id in invoices:
            ids.add(str(invoices[call.invoice_id]["customer_id"]))
    return ids


def predict(calls: Sequence[PlannedCall], state: SiteState) -> dict[str, Prediction]:
    """Predict every call in order, updating a copy of each invoice as payments land."""
    invoices = {k: dict(v) for k, v in state.invoices.items()}
    predictions: dict[str, Prediction] = {}
    for call in calls:
        prediction = _predict_one(call, invoices, state)
        predictions[call.key] = prediction
        if prediction.outcome is Outcome.WOULD_POST and call.invoice_id in invoices:
            _apply_effect(call, invoices[call.invoice_id])
    return predictions


def _predict_one(
    call: PlannedCall, invoices: dict[str, dict[str, Any]], state: SiteState
) -> Prediction:
    if call.action == "charge":
        return _predict_charge(call, state)
    invoice = invoices.get(call.invoice_id or "")
    if invoice is None:
        return fail(f"invoice {call.invoice_id} not found", 404, "resource_not_found")
    if call.action == "record_payment":
        return _predict_record(call, invoice, state)
    if call.action == "collect_payment":
        return _predict_collect(call, invoice, state)
    if call.action == "apply_payments":
        return _predict_apply(invoice, state)
    return _predict_close(invoice)


def _currency_problem(call: PlannedCall, invoice: dict[str, Any]) -> Prediction | None:
    if call.currency and invoice.get("currency_code") and call.currency != invoice["currency_code"]:
        return fail(
            f"the row is in {call.currency} but invoice {invoice['id']} is in "
            f"{invoice['currency_code']}; nothing is sent",
            None,
            "currency_mismatch",
        )
    return None


def _predict_record(call: PlannedCall, invoice: dict[str, Any], state: SiteState) -> Prediction:
    reference = call.params.get("reference_number")
    known = state.references.get(str(reference), []) if reference else []
    earlier = _earlier_payment(invoice, known)
    if earlier is not None:
        return skip(f"already recorded with reference {reference} (transaction {earlier})", earlier)
    status = invoice.get("status")
    if status == "paid":
        return skip(f"invoice {invoice['id']} is already paid")
    payable = V1_RECORDABLE if state.version == "v1" else PAYABLE
    if status not in payable:
        return fail(f"invoice {invoice['id']} is {status}; a payment can be recorded only on "
                    f"{', '.join(sorted(payable))} invoices", 409,
                    "invalid_state_for_request")
    mismatch = _currency_problem(call, invoice)
    if mismatch:
        return mismatch
    amount, due = call.amount, int(invoice.get("amount_due") or 0)
    if amount is not None and amount > due:
        excess = format_amount(amount - due, invoice["currency_code"])
        return post(f"overpayment: {excess} {invoice['currency_code']} goes to the customer's "
                    "excess payments")
    return post()


def _earlier_payment(invoice: dict[str, Any], transactions: list[dict[str, Any]]) -> str | None:
    for txn in transactions:
        if pays_invoice(txn, str(invoice.get("id")), invoice):
            return str(txn.get("id"))
    return None


def pays_invoice(
    txn: dict[str, Any], invoice_id: str, invoice: dict[str, Any] | None = None
) -> bool:
    """Whether ``txn`` is linked to this invoice (from either side). The same reference on the
    same customer is not enough: one wire often pays two invoices of one customer."""
    linked = {p.get("txn_id") for p in (invoice or {}).get("linked_payments") or []}
    return txn.get("id") in linked or any(
        link.get("invoice_id") == invoice_id for link in txn.get("linked_invoices") or []
    )


def _predict_collect(call: PlannedCall, invoice: dict[str, Any], state: SiteState) -> Prediction:
    status = invoice.get("status")
    if status == "paid":
        return skip(f"invoice {invoice['id']} is already paid")
    if status not in COLLECTABLE:
        return fail(f"invoice {invoice['id']} is {status}; only payment_due or not_paid invoices "
                    "can be collected", 409, "invalid_state_for_request")
    customer = state.customers.get(str(invoice.get("customer_id"))) or {}
    if customer.get("channel") in STORE_CHANNELS:
        return fail(f"customer {customer.get('id')} pays through {customer['channel']}; the store "
                    "collects its payments", 400, "invalid_request")
    if not call.params.get("payment_source_id") and not customer.get("primary_payment_source_id"):
        return fail(f"customer {invoice.get('customer_id')} has no payment source", 400,
                    "payment_method_not_present")
    to_collect = int(invoice.get("amount_to_collect", invoice.get("amount_due")) or 0)
    if call.amount is not None and call.amount > to_collect:
        left = format_amount(to_collect, invoice["currency_code"])
        return fail(f"amount is more than the {left} left to collect", 400, "param_wrong_value")
    return post()


def _predict_apply(invoice: dict[str, Any], state: SiteState) -> Prediction:
    status = invoice.get("status")
    if status == "paid":
        return skip(f"invoice {invoice['id']} is already paid")
    if status not in PAYABLE:
        return fail(f"invoice {invoice['id']} is {status}", 409, "invalid_state_for_request")
    customer = state.customers.get(str(invoice.get("customer_id"))) or {}
    if not int(customer.get("excess_payments") or 0):
        return fail(f"customer {invoice.get('customer_id')} has no excess payments to apply", 409,
                    "invalid_state_for_request")
    return post()


def _predict_close(invoice: dict[str, Any]) -> Prediction:
    status = invoice.get("status")
    if status in CLOSED:
        return skip(f"invoice {invoice['id']} is already closed ({status})")
    if status != "pending":
        return fail(f"invoice {invoice['id']} is {status}; only pending invoices can be closed",
                    409, "invalid_state_for_request")
    if "line_items" in invoice and not invoice["line_items"]:
        return fail(f"invoice {invoice['id']} has no line items and cannot be closed", 409,
                    "invalid_state_for_request")
    return post()


def _predict_charge(call: PlannedCall, state: SiteState) -> Prediction:
    customer_id = call.params.get("customer_id")
    if customer_id is None:
        return post()
    customer = state.customers.get(str(customer_id))
    if customer is None:
        return fail(f"customer {customer_id} not found", 404, "resource_not_found")
    currency = customer.get("preferred_currency_code")
    if call.currency and currency and call.currency != currency:
        return fail(f"the row is in {call.currency} but customer {customer_id} is billed in "
                    f"{currency}; nothing is sent", None, "currency_mismatch")
    return post()


def _apply_effect(call: PlannedCall, invoice: dict[str, Any]) -> None:
    """What a successful call does to the invoice, as far as later predictions care."""
    due = int(invoice.get("amount_due") or 0)
    if call.action == "close_invoice":
        invoice["status"] = "payment_due" if due else "paid"
        return
    if call.action in ("record_payment", "collect_payment"):
        paid = due if call.amount is None else min(call.amount, due)
        invoice["amount_due"] = due - paid
        if "amount_to_collect" in invoice:
            invoice["amount_to_collect"] = max(0, int(invoice["amount_to_collect"] or 0) - paid)
        if due - paid == 0:
            invoice["status"] = "paid"
