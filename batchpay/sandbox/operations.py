"""The five writes, with Chargebee's rules. Each runs inside one store transaction.

A handler takes a :class:`Write` and the checked params, changes documents, and returns
:class:`Applied` (the response body plus what the ledger records). Rule violations raise
:class:`SandboxApiError`; nothing is written then, because the caller rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchpay.sandbox import errors
from batchpay.sandbox.resources import (
    GATEWAY_ONLINE,
    OPEN_STATUSES,
    link,
    new_invoice,
    new_transaction,
    render,
    set_amount_to_collect,
    touch,
    v1_status,
)
from batchpay.sandbox.store import Doc, SandboxStore

V1_RECORDABLE = ("payment_due", "not_paid")
V1_COLLECTABLE = ("payment_due", "not_paid")  # the v1 spec; v2 also collects posted invoices
BLOCKED_CHANNELS = ("app_store", "play_store")


@dataclass
class Write:
    store: SandboxStore
    now: float
    version: str
    invoice_id: str | None


@dataclass
class Applied:
    body: dict[str, Any]
    invoice_id: str | None
    transaction_id: str | None
    amount: int | None


# lookups and preconditions


def _invoice(write: Write) -> Doc:
    invoice = write.store.invoice(write.invoice_id or "")
    if invoice is None:
        raise errors.not_found("Invoice", write.invoice_id or "")
    return invoice


def _customer(store: SandboxStore, customer_id: str, param: str | None = None) -> Doc:
    customer = store.customer(customer_id)
    if customer is None:
        raise errors.not_found("Customer", customer_id, param)
    return customer


def _require_status(
    invoice: Doc, allowed: tuple[str, ...], action: str, version: str = "v2"
) -> None:
    status = invoice["status"] if version == "v2" else v1_status(invoice["status"])
    if status not in allowed:
        raise errors.invalid_state(
            f"Invoice {invoice['id']} is {status}; {action} needs one of {', '.join(allowed)}"
        )


def _positive(param: str, amount: Any) -> int:
    if amount < 1:
        raise errors.param_wrong_value(param, "must be greater than 0")
    return amount


# effects shared by several writes


def _pay(invoice: Doc, txn: Doc, amount: int, now: float) -> int:
    """Apply up to ``amount`` of ``txn`` to ``invoice``; returns what was applied."""
    applied = min(amount, invoice["amount_due"])
    invoice["amount_due"] -= applied
    invoice["amount_paid"] += applied
    if invoice["amount_due"] == 0 and invoice["status"] in OPEN_STATUSES:
        invoice["status"] = "paid"
        invoice["paid_at"] = txn["date"]
    set_amount_to_collect(invoice)
    touch(invoice, now)
    link(invoice, txn, applied, now)
    return applied


def _use_unused(
    store: SandboxStore, invoice: Doc, customer: Doc, txn: Doc, amount: int, now: float
) -> int:
    applied = _pay(invoice, txn, min(amount, txn["amount_unused"]), now)
    txn["amount_unused"] -= applied
    customer["excess_payments"] -= applied
    touch(txn, now)
    store.put_transaction(txn)
    return applied


def _apply_excess(
    store: SandboxStore, invoice: Doc, customer: Doc, now: float
) -> list[tuple[str, int]]:
    """Apply the customer's unused payments, oldest first, until the invoice is settled."""
    used = []
    for txn in store.transactions(customer["id"]):
        if invoice["amount_due"] == 0:
            break
        if txn["amount_unused"] > 0 and txn["currency_code"] == invoice["currency_code"]:
            used.append(
                (txn["id"], _use_unused(store, invoice, customer, txn, txn["amount_unused"], now))
            )
    return used


def _payment_source(customer: Doc, source_id: str | None) -> dict[str, Any]:
    sources = customer.get("_payment_sources", [])
    if source_id is not None:
        for source in sources:
            if source["id"] == source_id:
                return dict(source)
        raise errors.not_found("Payment source", source_id, "payment_source_id")
    if not sources:
        raise errors.payment_error(
            "payment_method_not_present", f"Customer {customer['id']} has no payment method on file"
        )
    return dict(sources[0])


def _card_payment(write: Write, invoice: Doc, source: dict[str, Any], amount: int) -> Doc:
    txn = new_transaction(
        txn_id=write.store.next_id("txn", "txn_sbx_"),
        customer_id=invoice["customer_id"],
        currency_code=invoice["currency_code"],
        amount=amount,
        date=int(write.now),
        now=write.now,
        payment_method="card",
        gateway=GATEWAY_ONLINE,
        payment_source_id=source["id"],
    )
    _pay(invoice, txn, amount, write.now)
    return txn


# the writes


def record_payment(write: Write, params: dict[str, Any]) -> Applied:
    invoice = _invoice(write)
    v2 = write.version == "v2"
    _require_status(
        invoice, OPEN_STATUSES if v2 else V1_RECORDABLE, "record_payment", write.version
    )
    names = {
        "amount": "transaction[amount]" if v2 else "amount",
        "payment_method": "transaction[payment_method]" if v2 else "payment_method",
        "reference_number": "transaction[reference_number]" if v2 else "reference_number",
        "date": "transaction[date]" if v2 else "paid_at",
    }
    if names["payment_method"] not in params:
        raise errors.param_wrong_value(names["payment_method"], "cannot be blank")
    amount = _positive(names["amount"], params.get(names["amount"], invoice["amount_due"]))
    status = params.get("transaction[status]", "success")
    customer = _customer(write.store, invoice["customer_id"])
    txn = new_transaction(
        txn_id=write.store.next_id("txn", "txn_sbx_"),
        customer_id=invoice["customer_id"],
        currency_code=invoice["currency_code"],
        amount=amount,
        date=params.get(names["date"], int(write.now)),
        now=write.now,
        payment_method=params[names["payment_method"]],
        reference_number=params.get(names["reference_number"]),
        status=status,
    )
    if status == "success":
        excess = amount - _pay(invoice, txn, amount, write.now)
        txn["amount_unused"] = excess
        customer["excess_payments"] += excess
        touch(customer, write.now)
    else:
        # failed payments are linked but change no balance
        link(invoice, txn, 0, write.now)
        touch(invoice, write.now)
    _save(write.store, invoice, txn, customer)
    return Applied(_body(write, invoice, txn), invoice["id"], txn["id"], amount)


def collect_payment(write: Write, params: dict[str, Any]) -> Applied:
    invoice = _invoice(write)
    v2 = write.version == "v2"
    _require_status(
        invoice, OPEN_STATUSES if v2 else V1_COLLECTABLE, "collect_payment", write.version
    )
    if "authorization_transaction_id" in params:
        raise errors.not_found(
            "Authorization transaction",
            params["authorization_transaction_id"],
            "authorization_transaction_id",
        )
    customer = _customer(write.store, invoice["customer_id"])
    if invoice.get("channel") in BLOCKED_CHANNELS:
        raise errors.invalid_request(
            f"Invoice {invoice['id']} belongs to {invoice['channel']}; the store collects it"
        )
    if invoice["amount_to_collect"] <= 0:
        raise errors.invalid_state(f"Invoice {invoice['id']} has nothing to collect")
    source = _payment_source(customer, params.get("payment_source_id"))
    amount = _positive("amount", params.get("amount", invoice["amount_to_collect"]))
    if amount > invoice["amount_to_collect"]:
        raise errors.param_wrong_value(
            "amount", f"cannot exceed amount_to_collect {invoice['amount_to_collect']}"
        )
    if source["decline"]:
        raise errors.payment_error(
            "payment_processing_failed", f"The payment source {source['id']} was declined"
        )
    txn = _card_payment(write, invoice, source, amount)
    _save(write.store, invoice, txn)
    return Applied(_body(write, invoice, txn), invoice["id"], txn["id"], amount)


def apply_payments(write: Write, params: dict[str, Any]) -> Applied:
    invoice = _invoice(write)
    _require_status(invoice, OPEN_STATUSES, "apply_payments")
    customer = _customer(write.store, invoice["customer_id"])
    ids: dict[int, str] = params.get("transactions[id]", {})
    amounts: dict[int, int] = params.get("transactions[amount]", {})
    orphans = sorted(set(amounts) - set(ids))
    if orphans:
        param = f"transactions[amount][{orphans[0]}]"
        raise errors.param_wrong_value(param, f"needs transactions[id][{orphans[0]}]")
    if customer["excess_payments"] <= 0:
        raise errors.invalid_state(f"Customer {customer['id']} has no excess payments to apply")
    if ids:
        used = [
            (txn_id, _use_unused(write.store, invoice, customer, txn, amount, write.now))
            for txn_id, txn, amount in _requested_payments(write, invoice, ids, amounts)
        ]
    else:
        used = _apply_excess(write.store, invoice, customer, write.now)
    touch(customer, write.now)
    _save(write.store, invoice, None, customer)
    first = used[0][0] if used else None
    return Applied(_body(write, invoice), invoice["id"], first, sum(a for _, a in used))


def _requested_payments(
    write: Write,
    invoice: Doc,
    ids: dict[int, str],
    amounts: dict[int, int],
) -> list[tuple[str, Doc, int]]:
    requested = []
    for index in sorted(ids):
        param = f"transactions[id][{index}]"
        txn = write.store.transaction(ids[index])
        if txn is None:
            raise errors.not_found("Transaction", ids[index], param)
        if (
            txn["customer_id"] != invoice["customer_id"]
            or txn["currency_code"] != invoice["currency_code"]
        ):
            raise errors.param_wrong_value(param, "belongs to another customer or currency")
        if txn["amount_unused"] <= 0:
            raise errors.param_wrong_value(param, "has no unused amount")
        amount = amounts.get(index, txn["amount_unused"])
        requested.append((txn["id"], txn, _positive(f"transactions[amount][{index}]", amount)))
    return requested


def close(write: Write, params: dict[str, Any]) -> Applied:
    invoice = _invoice(write)
    _require_status(invoice, ("pending",), "close")
    if not invoice["line_items"]:
        raise errors.invalid_state(
            f"Invoice {invoice['id']} has no line items and cannot be closed"
        )
    if "invoice_date" in params:
        invoice["date"] = invoice["generated_at"] = params["invoice_date"]
    invoice["status"] = "payment_due" if invoice["amount_due"] > 0 else "paid"
    set_amount_to_collect(invoice)
    touch(invoice, write.now)
    customer = _customer(write.store, invoice["customer_id"])
    _apply_excess(write.store, invoice, customer, write.now)
    txn = _auto_collect(write, invoice, customer)
    touch(customer, write.now)
    _save(write.store, invoice, txn, customer)
    return Applied(
        _body(write, invoice), invoice["id"], txn["id"] if txn else None, invoice["total"]
    )


def _auto_collect(write: Write, invoice: Doc, customer: Doc) -> Doc | None:
    """Closing charges the primary card when auto_collection is on; a decline leaves it due."""
    sources = customer.get("_payment_sources", [])
    if invoice["amount_due"] == 0 or customer.get("auto_collection") != "on" or not sources:
        return None
    if invoice.get("channel") in BLOCKED_CHANNELS or sources[0]["decline"]:
        return None
    return _card_payment(write, invoice, sources[0], invoice["amount_due"])


def charge(write: Write, params: dict[str, Any]) -> Applied:
    """``POST /invoices/charge`` (API v1, and v2 on Product Catalog 1.0 sites)."""
    customer, currency = _charged_customer(write, params)
    if "amount" not in params:
        raise errors.param_wrong_value("amount", "cannot be blank")
    date = params.get("invoice_date", int(write.now))
    item = {
        "description": params["description"],
        "amount": _positive("amount", params["amount"]),
        "date_from": params.get("date_from", date),
        "date_to": params.get("date_to", date),
    }
    return _charge_invoice(write, params, customer, currency, [item])


def charge_items_and_charges(write: Write, params: dict[str, Any]) -> Applied:
    """``POST /invoices/create_for_charge_items_and_charges`` (Product Catalog 2.0): the
    sandbox has no item catalogue, so only ad-hoc ``charges[...][i]`` lines."""
    item_prices: dict[int, str] = params.get("item_prices[item_price_id]", {})
    if item_prices:
        first = min(item_prices)
        raise errors.not_found("Item price", item_prices[first],
                               f"item_prices[item_price_id][{first}]")
    customer, currency = _charged_customer(write, params)
    amounts: dict[int, int] = params.get("charges[amount]", {})
    descriptions: dict[int, str] = params.get("charges[description]", {})
    if not amounts:
        raise errors.param_wrong_value("charges[amount][0]", "cannot be blank")
    date = params.get("invoice_date", int(write.now))
    items = []
    for index in sorted(amounts):
        param = f"charges[amount][{index}]"
        items.append({
            "description": descriptions.get(index, "One-time charge"),
            "amount": _positive(param, amounts[index]),
            "date_from": params.get("charges[date_from]", {}).get(index, date),
            "date_to": params.get("charges[date_to]", {}).get(index, date),
        })
    return _charge_invoice(write, params, customer, currency, items)


def _charged_customer(write: Write, params: dict[str, Any]) -> tuple[Doc, str]:
    if "subscription_id" in params:
        raise errors.not_found("Subscription", params["subscription_id"], "subscription_id")
    if "customer_id" not in params:
        raise errors.param_wrong_value("customer_id", "cannot be blank")
    customer = _customer(write.store, params["customer_id"], "customer_id")
    currency: str = customer["preferred_currency_code"]
    if params.get("currency_code", currency) != currency:
        raise errors.param_wrong_value(
            "currency_code", f"must be the customer's currency {currency}"
        )
    return customer, currency


def _charge_invoice(
    write: Write, params: dict[str, Any], customer: Doc, currency: str, items: list[Doc]
) -> Applied:
    total = sum(item["amount"] for item in items)
    invoice = new_invoice(
        invoice_id=write.store.next_id("inv", "SBX-INV-"),
        customer_id=customer["id"],
        currency_code=currency,
        status="payment_due",
        total=total,
        date=params.get("invoice_date", int(write.now)),
        now=write.now,
        line_items=items,
        channel=str(customer.get("channel", "web")),
    )
    if "po_number" in params:
        invoice["po_number"] = params["po_number"]
    write.store.put_invoice(invoice)
    return Applied(_body(write, invoice), invoice["id"], None, total)


def _body(write: Write, invoice: Doc, txn: Doc | None = None) -> dict[str, Any]:
    """The response body, shaped as the request's API version serves the documents."""
    body = {"invoice": render("invoice", invoice, write.version)}
    if txn is not None:
        body["transaction"] = render("transaction", txn, write.version)
    return body


def _save(store: SandboxStore, invoice: Doc, txn: Doc | None, customer: Doc | None = None) -> None:
    store.put_invoice(invoice)
    if txn is not None:
        store.put_transaction(txn)
    if customer is not None:
        store.put_customer(customer)


Handler = Callable[[Write, dict[str, Any]], Applied]

# (spec path, ledger operation, handler) per version; apply_payments does not exist in v1.
WRITES: dict[str, list[tuple[str, str, Handler]]] = {
    "v2": [
        ("/invoices/{invoice-id}/record_payment", "record_payment", record_payment),
        ("/invoices/{invoice-id}/collect_payment", "collect_payment", collect_payment),
        ("/invoices/{invoice-id}/apply_payments", "apply_payments", apply_payments),
        ("/invoices/{invoice-id}/close", "close", close),
        ("/invoices/charge", "charge", charge),
        ("/invoices/create_for_charge_items_and_charges", "charge", charge_items_and_charges),
    ],
    "v1": [
        ("/invoices/{invoice-id}/record_payment", "record_payment", record_payment),
        ("/invoices/{invoice-id}/collect_payment", "collect_payment", collect_payment),
        ("/invoices/{invoice-id}/collect", "close", close),
        ("/invoices/charge", "charge", charge),
    ],
}
