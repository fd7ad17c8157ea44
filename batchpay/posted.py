"""What a posted call moved, compared with what a row asks: a posted key never swallows a
different payment.

The journal keeps the request each call last sent. A row whose business key the journal shows
posted is skipped only when its request moves the same money (same invoice or customer, amount
and currency); otherwise two payments ended up under one key (a bank reference reused, a batch
numbered otherwise in another file, a row edited after it was posted) and the row needs review.

A bank statement's rows are keyed by account and ``bank_reference``, and the payments sharing a
reference are numbered in file order (``B1``, ``B1/2``...; see ``batchpay.statements``), so a
file holding part of a batch can number a payment otherwise than the next. A new row whose
money is what the journal posted under another number of its reference, and that no row of the
file holding that number claims, may be that payment: it needs review too, never sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from batchpay.journal import Entry
from batchpay.money import format_amount
from batchpay.plan import PlannedCall, business_key

# Form fields that say where money goes and how much: amount, currency, customer/subscription;
# apply_payments' transactions[...] columns. The invoice is in the path.
_AMOUNTS = ("transaction[amount]", "amount", "charges[amount][0]")
_MONEY_FIELDS = frozenset({*_AMOUNTS, "currency_code", "customer_id", "subscription_id"})
_INVOICE_PATH = re.compile(r"^/invoices/([^/]+)/")
_NUMBERED = re.compile(r"^(.+)/(\d+)$")
STATEMENT_KEY = ("account", "bank_reference")


@dataclass(frozen=True)
class Money:
    """What one request moves, as compared and as shown."""

    parts: tuple[object, ...]
    amount: int | None
    currency: str | None
    target: str

    def describe(self) -> str:
        if self.amount is None:
            how = "the full amount"
        elif self.currency:
            how = f"{format_amount(self.amount, self.currency)} {self.currency}"
        else:
            how = f"{self.amount} (minor units)"
        return f"{how} to {self.target}"


def _money(path: str, form: Sequence[Sequence[str]], currency: str | None) -> Money:
    fields = {str(name): str(value) for name, value in form
              if name in _MONEY_FIELDS or str(name).startswith("transactions[")}  # fmt: skip
    amount = next((int(fields[n]) for n in _AMOUNTS if fields.get(n, "").isdigit()), None)
    applied = [int(v) for n, v in fields.items() if n.startswith("transactions[amount]")]
    if amount is None and applied:
        amount = sum(applied)
    currency = fields.get("currency_code") or currency
    invoice = _INVOICE_PATH.match(path)
    if invoice:
        target = f"invoice {unquote(invoice.group(1))}"
    elif "customer_id" in fields or "subscription_id" in fields:
        who = "customer" if "customer_id" in fields else "subscription"
        target = f"{who} {fields.get('customer_id') or fields.get('subscription_id')}"
    else:
        target = path
    # By value, not by wire name or path: the same payment sent through another API version
    # (v1's amount, v2's transaction[amount]; v1's /collect, v2's /close) is the same money.
    applications = tuple(sorted((n, v) for n, v in fields.items() if n.startswith("transactions[")))
    parts = (target, fields.get("customer_id"), fields.get("subscription_id"), amount,
             fields.get("currency_code"), applications)
    return Money(parts, amount, currency, target)


def of_call(call: PlannedCall) -> Money:
    return _money(call.request.path, call.request.form, call.currency)


def of_entry(entry: Entry, currency: str | None) -> Money | None:
    """What the journal's request moved; None when the journal kept no readable request.
    ``currency``: the row's, for requests that carry none (money goes in the invoice's)."""
    try:
        sent = json.loads(entry.request or "")
        money = _money(str(sent["path"]), sent.get("form") or [], sent.get("currency") or currency)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return money


def moves_other_money(call: PlannedCall, entry: Entry) -> Money | None:
    """What ``entry`` (posted with ``call``'s key) moved, when that is not what ``call`` asks."""
    posted = of_entry(entry, call.currency)
    if posted is None or posted.parts == of_call(call).parts:
        return None
    return posted


def statement_key(call: PlannedCall) -> tuple[str, str] | None:
    """(account, bank reference) of a call keyed by a statement row's reference."""
    try:
        parts = json.loads(call.business_key)
    except ValueError:
        return None
    if not isinstance(parts, dict) or tuple(parts) != STATEMENT_KEY:
        return None
    return str(parts["account"]), str(parts["bank_reference"])


def base_reference(reference: str) -> str:
    """``B1`` of ``B1``, ``B1/2``, ``B1/13``: the reference the bank gave."""
    numbered = _NUMBERED.match(reference)
    return numbered.group(1) if numbered else reference


def sibling_keys(account: str, base: str) -> tuple[str, str]:
    """The business key of ``base`` itself, and the prefix of its numbered ones (``base/``)."""
    exact = business_key([("account", account), ("bank_reference", base)])
    numbered = business_key([("account", account), ("bank_reference", base + "/")])
    return exact, numbered[: -len('"}')]


def changed_reason(entry: Entry, posted: Money, call: PlannedCall, when: str) -> str:
    return (
        f"this key was posted on {when}{_transaction(entry)} as {posted.describe()}; this row is "
        f"{of_call(call).describe()}: a different payment under the same key (a reference "
        "the bank reused, a batch numbered otherwise in another file, or the row edited after "
        "it was posted); nothing is sent: check in Chargebee whether this payment is missing"
    )


def sibling_reason(reference: str, entry: Entry, posted: Money, when: str) -> str:
    return (
        f"the journal shows {posted.describe()} posted on {when}{_transaction(entry)} under "
        f"bank reference {reference} of this account, and no row of this file read as "
        f"{reference} is that "
        "payment: this row may be it, numbered otherwise in another file (a notice holding "
        f"part of a batch); nothing is sent: check {posted.target} in Chargebee"
    )


def same_money(
    call: PlannedCall, posted: Sequence[tuple[str, Entry]]
) -> tuple[str, Entry, Money] | None:
    """(bank reference, entry, money) of the first of ``posted`` that moved what ``call`` asks."""
    wanted = of_call(call).parts
    for key, entry in posted:
        money = of_entry(entry, call.currency)
        if money is not None and money.parts == wanted:
            return str(json.loads(key).get("bank_reference")), entry, money
    return None


def _transaction(entry: Entry) -> str:
    return f" (transaction {entry.transaction_id})" if entry.transaction_id else ""


def unclaimed(
    found: Sequence[tuple[str, Entry]], claimed: Mapping[str, object]
) -> list[tuple[str, Entry]]:
    """The posted entries no row of the file holds with the same money (``claimed``: keys)."""
    return [(key, entry) for key, entry in found if entry.key not in claimed]
