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
from dataclasses import dataclass, field, replace
from typing import Any

from batchpay.chargebee.client import ChargebeeClient
from batchpay.money import format_amount
from batchpay.plan import PlannedCall
from batchpay.records import Outcome

# Invoice statuses a payment can be recorded on, collected or applied to, per API version: the
# v2 spec allows posted; v1 has no posted status and names payment_due and not_paid.
PAYABLE = {
    "v2": frozenset({"payment_due", "posted", "not_paid"}),
    "v1": frozenset({"payment_due", "not_paid"}),
}
CLOSED = frozenset({"posted", "payment_due", "not_paid", "paid"})
STORE_CHANNELS = frozenset({"app_store", "play_store"})
USABLE_CARD = frozenset({"valid", "expiring"})  # v1 customer.payment_method.status


@dataclass(frozen=True)
class Prediction:
    outcome: Outcome  # WOULD_POST, SKIPPED or WOULD_FAIL
    reason: str = ""
    # What Chargebee would answer, for tests comparing a prediction with the site; a row never
    # shows these: a predicted failure was not sent, so Chargebee answered nothing.
    http_status: int | None = None
    api_error_code: str | None = None
    transaction_id: str | None = None  # the earlier transaction, when skipped as recorded
    # For a row that names no amount (collect or record the full amount, close, apply all):
    # what the call would move, from the invoice, in the invoice's currency.
    amount: int | None = None
    currency: str | None = None
    # For a grouped apply_payments call: what each of its rows would apply, in row order
    row_amounts: tuple[int, ...] = ()


@dataclass
class SiteState:
    invoices: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any] | None]
    references: dict[str, list[dict[str, Any]]]  # reference_number -> transactions
    version: str = "v2"
    # customer id -> the currency a charge to them is invoiced in, None when unknown
    customer_currencies: dict[str, str | None] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)  # apply_payments'
    # payment source id (a row's, not its customer's own) -> the customer it charged before
    source_owners: dict[str, str] = field(default_factory=dict)


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
    currencies = {
        cid: await _charge_currency(client, customer)
        for cid in sorted(_charged_customers(calls))
        if (customer := customers.get(cid)) is not None
    }
    transactions = await _read_transactions(client, calls, version)
    owners = await _read_source_owners(client, calls, invoices, customers, version)
    return SiteState(
        invoices=invoices, customers=customers, references=references, version=version,
        customer_currencies=currencies, transactions=transactions, source_owners=owners,
    )


async def _read_source_owners(
    client: ChargebeeClient,
    calls: Sequence[PlannedCall],
    invoices: dict[str, dict[str, Any]],
    customers: dict[str, dict[str, Any] | None],
    version: str,
) -> dict[str, str]:
    """Whose a row's payment source is, when it is not its invoice customer's primary or
    backup source: the customer of a transaction once charged to it (API v2)."""
    if version != "v2":
        return {}
    foreign = set()
    for call in calls:
        source = call.params.get("payment_source_id")
        invoice = invoices.get(call.invoice_id or "")
        if call.action != "collect_payment" or not source or invoice is None:
            continue
        if str(source) not in _own_sources(customers.get(str(invoice.get("customer_id")))):
            foreign.add(str(source))
    owners = {}
    for source in sorted(foreign):
        txns = await client.find_transactions(payment_source_id=source)
        if txns and txns[0].get("customer_id"):
            owners[source] = str(txns[0]["customer_id"])
    return owners


def _own_sources(customer: dict[str, Any] | None) -> set[str]:
    customer = customer or {}
    return {str(customer[name]) for name in ("primary_payment_source_id",
                                             "backup_payment_source_id") if customer.get(name)}


def _charged_customers(calls: Sequence[PlannedCall]) -> set[str]:
    return {str(c.params["customer_id"]) for c in calls
            if c.action == "charge" and c.params.get("customer_id")}


async def _charge_currency(client: ChargebeeClient, customer: dict[str, Any]) -> str | None:
    """The currency Chargebee invoices a charge to ``customer`` in: the v2 customer's
    ``preferred_currency_code`` (multi-currency sites); else, and always on API v1, whose
    customer carries no currency, the currency of the customer's latest invoice."""
    preferred = customer.get("preferred_currency_code")
    if preferred:
        return str(preferred)
    latest = await client.latest_invoice(str(customer.get("id")))
    code = (latest or {}).get("currency_code")
    return str(code) if code else None


async def _read_transactions(
    client: ChargebeeClient, calls: Sequence[PlannedCall], version: str
) -> dict[str, dict[str, Any]]:
    """The transactions apply_payments rows name (API v2; v1 has no apply_payments)."""
    ids = sorted({
        str(txn_id)
        for c in calls if c.action == "apply_payments"
        for txn_id, _ in c.params.get("transactions") or []  # type: ignore[attr-defined]
    })
    if version != "v2" or not ids:
        return {}
    return {str(t.get("id")): t for t in await client.list_transactions(ids)}


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
        invoice = invoices.get(call.invoice_id or "")
        if invoice is not None:
            prediction = _with_implied_amount(call, prediction, invoice, state)
        predictions[call.key] = prediction
        if prediction.outcome is Outcome.WOULD_POST and invoice is not None:
            _apply_effect(call, invoice)
    return predictions


def _with_implied_amount(
    call: PlannedCall, prediction: Prediction, invoice: dict[str, Any], state: SiteState
) -> Prediction:
    """The invoice's currency, and for a call that would post without an amount the amount
    it would move, so control totals count it where it belongs (issue 12 item 8)."""
    currency = invoice.get("currency_code")
    amount = None
    rows: tuple[int, ...] = ()
    if prediction.outcome is Outcome.WOULD_POST and call.amount is None:
        amount = implied_amount(call, invoice, state)
    if prediction.outcome is Outcome.WOULD_POST and len(call.rows) > 1:
        rows = group_amounts(call, invoice, state)
    return replace(prediction, amount=amount, currency=str(currency) if currency else None,
                   row_amounts=rows)


def group_amounts(call: PlannedCall, invoice: dict[str, Any], state: SiteState) -> tuple[int, ...]:
    """What each row of a grouped apply_payments call applies, as Chargebee applies the
    payments the call names, in order: the row's amount, else its payment's unused amount, each
    at most what is still due. A row naming no payment applies nothing, unless no row names one:
    then the call applies the customer's excess, counted on its first row. Empty when a named
    payment was not read (Chargebee will refuse the call)."""
    if not any(row.params.get("transaction_id") for row in call.rows):
        return (implied_amount(call, invoice, state),) + (0,) * (len(call.rows) - 1)
    left = int(invoice.get("amount_due") or 0)
    applied = []
    for row in call.rows:
        if not row.params.get("transaction_id"):
            applied.append(0)
            continue
        txn = state.transactions.get(str(row.params["transaction_id"]))
        if txn is None:
            return ()
        unused = int(txn.get("amount_unused") or 0)
        amount = min(unused if row.amount is None else row.amount, unused, left)
        applied.append(amount)
        left -= amount
    return tuple(applied)


def implied_amount(call: PlannedCall, invoice: dict[str, Any], state: SiteState) -> int:
    """What a call with no amount moves: record the amount due, collect the amount to collect,
    close the invoice's total (v1 calls it ``amount``), apply the unused payments it names (or
    the customer's excess), at most the amount due."""
    due = int(invoice.get("amount_due") or 0)
    if call.action == "collect_payment":
        return int(invoice.get("amount_to_collect", due) or 0)
    if call.action == "close_invoice":
        return int(invoice.get("total", invoice.get("amount")) or 0)
    if call.action == "apply_payments":
        pairs = call.params.get("transactions") or []
        named = [state.transactions.get(str(t)) for t, _ in pairs]  # type: ignore[attr-defined]
        if named and all(named):
            unused = sum(int(t.get("amount_unused") or 0) for t in named if t)
        else:
            customer = state.customers.get(str(invoice.get("customer_id"))) or {}
            unused = int(customer.get("excess_payments") or 0)
        return min(due, unused)
    return due


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
        return _predict_apply(call, invoice, state)
    return _predict_close(invoice)


def _currency_problem(call: PlannedCall, currency: object, owner: str) -> Prediction | None:
    """A row whose currency is not ``currency`` (the invoice's, or the charged customer's):
    Chargebee would take its amount in ``currency``, so it is never sent."""
    wrong = sorted({r.currency for r in call.rows if r.currency and r.currency != currency})
    if currency and wrong:
        return fail(f"the row is in {wrong[0]} but {owner} {currency}; nothing is sent",
                    None, "currency_mismatch")
    return None


def _invoice_currency_problem(call: PlannedCall, invoice: dict[str, Any]) -> Prediction | None:
    return _currency_problem(call, invoice.get("currency_code"), f"invoice {invoice['id']} is in")


def _predict_record(call: PlannedCall, invoice: dict[str, Any], state: SiteState) -> Prediction:
    reference = call.params.get("reference_number")
    known = state.references.get(str(reference), []) if reference else []
    earlier = _earlier_payment(invoice, known)
    if earlier is not None:
        return skip(f"already recorded with reference {reference} (transaction {earlier})", earlier)
    status = invoice.get("status")
    if status == "paid":
        return skip(f"invoice {invoice['id']} is already paid")
    payable = PAYABLE[state.version]
    if status not in payable:
        return fail(f"invoice {invoice['id']} is {status}; a payment can be recorded only on "
                    f"{', '.join(sorted(payable))} invoices", 409,
                    "invalid_state_for_request")
    mismatch = _invoice_currency_problem(call, invoice)
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
    collectable = PAYABLE[state.version]
    if status not in collectable:
        return fail(f"invoice {invoice['id']} is {status}; only "
                    f"{', '.join(sorted(collectable))} invoices can be collected (API "
                    f"{state.version})", 409, "invalid_state_for_request")
    channel = invoice.get("channel")
    if channel in STORE_CHANNELS:
        return fail(f"invoice {invoice['id']} belongs to {channel}; the store collects its "
                    "payments", 400, "invalid_request")
    problem = _invoice_currency_problem(call, invoice) or _source_problem(call, invoice, state)
    if problem:
        return problem
    to_collect = int(invoice.get("amount_to_collect", invoice.get("amount_due")) or 0)
    if to_collect <= 0:
        return fail(f"invoice {invoice['id']} has nothing left to collect", 409,
                    "invalid_state_for_request")
    if call.amount is not None and call.amount > to_collect:
        left = format_amount(to_collect, invoice["currency_code"])
        return fail(f"amount is more than the {left} left to collect", 400, "param_wrong_value")
    return post()


def _source_problem(
    call: PlannedCall, invoice: dict[str, Any], state: SiteState
) -> Prediction | None:
    """What the collection would be charged to, as this API version shows it: v2 a payment
    source (the row's, or the customer's primary), v1 the customer's card (payment_method)."""
    customer_id = str(invoice.get("customer_id"))
    customer = state.customers.get(customer_id) or {}
    if state.version == "v1":
        card = customer.get("payment_method") or {}
        if card.get("status") not in USABLE_CARD:
            return fail(f"customer {customer_id} has no valid card on file", 400,
                        "payment_method_not_present")
        return None
    source = call.params.get("payment_source_id")
    if not source:
        if not customer.get("primary_payment_source_id"):
            return fail(f"customer {customer_id} has no payment source", 400,
                        "payment_method_not_present")
        return None
    if str(source) in _own_sources(customer):
        return None
    owner = state.source_owners.get(str(source)) or next(
        (cid for cid, other in state.customers.items() if str(source) in _own_sources(other)),
        None)
    if owner is not None and owner != customer_id:
        return fail(f"payment source {source} belongs to customer {owner}, not to "
                    f"{customer_id} (invoice {invoice['id']})", 404, "resource_not_found")
    return None


def _predict_apply(call: PlannedCall, invoice: dict[str, Any], state: SiteState) -> Prediction:
    status = invoice.get("status")
    if status == "paid":
        return skip(f"invoice {invoice['id']} is already paid")
    if status not in PAYABLE[state.version]:
        return fail(f"invoice {invoice['id']} is {status}", 409, "invalid_state_for_request")
    customer = state.customers.get(str(invoice.get("customer_id"))) or {}
    if not int(customer.get("excess_payments") or 0):
        return fail(f"customer {invoice.get('customer_id')} has no excess payments to apply", 409,
                    "invalid_state_for_request")
    return _invoice_currency_problem(call, invoice) or _transactions_problem(
        call, invoice, state
    ) or post()


def _transactions_problem(
    call: PlannedCall, invoice: dict[str, Any], state: SiteState
) -> Prediction | None:
    """Each named transaction must be the invoice customer's, in the invoice's currency, with
    an unused amount (read before; a transaction not found is left to Chargebee)."""
    for txn_id, _ in call.params.get("transactions") or []:  # type: ignore[attr-defined]
        txn = state.transactions.get(str(txn_id))
        if txn is None:
            continue
        if txn.get("customer_id") != invoice.get("customer_id"):
            return fail(f"transaction {txn_id} belongs to customer {txn.get('customer_id')}, "
                        f"not to {invoice.get('customer_id')} (invoice {invoice['id']})", 400,
                        "param_wrong_value")
        if txn.get("currency_code") != invoice.get("currency_code"):
            return fail(f"transaction {txn_id} is in {txn.get('currency_code')} but invoice "
                        f"{invoice['id']} is in {invoice.get('currency_code')}", 400,
                        "param_wrong_value")
        if not int(txn.get("amount_unused") or 0):
            return fail(f"transaction {txn_id} has no unused amount", 400, "param_wrong_value")
    return None


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
    currency = state.customer_currencies.get(str(customer_id))
    if currency is None and call.currency and "currency_code" not in call.params:
        return fail(f"the currency of customer {customer_id} cannot be confirmed (API "
                    f"{state.version} shows none on the customer and they have no invoice "
                    f"yet), so a {call.currency} charge is not sent", None, "currency_unknown")
    return _currency_problem(call, currency, f"customer {customer_id} is billed in") or post()


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
