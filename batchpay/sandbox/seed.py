"""Seed data: read fixture files, build documents from them, and make synthetic seeds.

A seed is a mapping with optional ``customers``, ``transactions`` and ``invoices`` lists; see
``samples/sandbox-seed.yaml`` for every field.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from batchpay.sandbox.resources import link, new_customer, new_invoice, new_transaction

if TYPE_CHECKING:
    from batchpay.sandbox.store import SandboxStore

SEED_TIME = 1767225600  # 2026-01-01T00:00:00Z: fixed, so seeded documents are reproducible.


class SeedError(ValueError):
    """A seed file or mapping that cannot be loaded; the message names the entry."""


def load_seed_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON seed file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SeedError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"{path}: a seed must be a mapping with customers/invoices/transactions")
    return data


def _on_off(value: Any) -> str:
    # YAML 1.1 reads a bare `on` as True.
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value or "off")


def _sources(raw: list[Any]) -> list[dict[str, Any]]:
    items = [{"id": s} if isinstance(s, str) else dict(s) for s in raw]
    return [{"id": str(s["id"]), "decline": bool(s.get("decline", False))} for s in items]


def _currency(entry: dict[str, Any], default: str | None = None) -> str:
    value = entry.get("currency_code", entry.get("currency", default))
    if not value:
        raise SeedError(f"{entry.get('id')}: needs a currency")
    return str(value)


def seed_documents(seed: dict[str, Any], store: SandboxStore) -> tuple[list, list, list]:
    """Customer, invoice and transaction documents for a seed (nothing is written here)."""
    try:
        customers = {c["id"]: c for c in seed.get("customers") or []}
        currencies = {cid: _currency(c) for cid, c in customers.items()}
        txns = {t["id"]: _transaction(t, currencies, store) for t in seed.get("transactions") or []}
        channels = {cid: str(c.get("channel", "web")) for cid, c in customers.items()}
        invoices = [
            _invoice(i, currencies, channels, txns, store) for i in seed.get("invoices") or []
        ]
        unused: dict[str, int] = {}
        for txn in txns.values():
            unused[txn["customer_id"]] = unused.get(txn["customer_id"], 0) + txn["amount_unused"]
        docs = [_customer(c, unused.get(cid, 0)) for cid, c in customers.items()]
    except (KeyError, TypeError, ValueError) as exc:
        raise SeedError(f"invalid seed entry: {exc!r}") from exc
    return docs, invoices, list(txns.values())


def _customer(entry: dict[str, Any], unused: int) -> dict[str, Any]:
    return new_customer(
        customer_id=str(entry["id"]),
        currency_code=_currency(entry),
        created_at=int(entry.get("created_at", SEED_TIME)),
        now=SEED_TIME,
        payment_sources=_sources(entry.get("payment_sources") or []),
        auto_collection=_on_off(entry.get("auto_collection")),
        channel=str(entry.get("channel", "web")),
        excess_payments=int(entry.get("excess_payments", unused)),
    )


def _customer_currency(cid: str, currencies: dict[str, str], store: SandboxStore) -> str:
    if cid in currencies:
        return currencies[cid]
    existing = store.customer(cid)
    if existing is None:
        raise SeedError(f"unknown customer {cid!r}")
    return str(existing["preferred_currency_code"])


def _customer_channel(cid: str, channels: dict[str, str], store: SandboxStore) -> str:
    if cid in channels:
        return channels[cid]
    existing = store.customer(cid)
    return str(existing.get("channel", "web")) if existing else "web"


def _transaction(entry: dict[str, Any], currencies: dict[str, str], store: SandboxStore) -> dict:
    cid = str(entry["customer"])
    return new_transaction(
        txn_id=str(entry["id"]),
        customer_id=cid,
        currency_code=_currency(entry, _customer_currency(cid, currencies, store)),
        amount=int(entry["amount"]),
        amount_unused=int(entry.get("amount_unused", 0)),
        date=int(entry.get("date", SEED_TIME)),
        now=SEED_TIME,
        payment_method=str(entry.get("payment_method", "bank_transfer")),
        reference_number=entry.get("reference_number"),
    )


def _invoice(
    entry: dict[str, Any],
    currencies: dict[str, str],
    channels: dict[str, str],
    txns: dict[str, dict],
    store: SandboxStore,
) -> dict[str, Any]:
    cid = str(entry["customer"])
    total = int(entry["total"])
    date = int(entry.get("date", SEED_TIME))
    doc = new_invoice(
        invoice_id=str(entry["id"]),
        customer_id=cid,
        currency_code=_currency(entry, _customer_currency(cid, currencies, store)),
        status=str(entry["status"]),
        total=total,
        date=date,
        now=SEED_TIME,
        amount_due=entry.get("amount_due"),
        amount_paid=entry.get("amount_paid"),
        due_date=entry.get("due_date"),
        line_items=entry.get("line_items"),
        # a store customer's invoices come from the store (the invoice carries the channel)
        channel=str(entry.get("channel", _customer_channel(cid, channels, store))),
    )
    for lp in entry.get("linked_payments") or []:
        txn = txns.get(lp["txn_id"]) or store.transaction(lp["txn_id"])
        if txn is None:
            raise SeedError(f"{doc['id']}: linked payment {lp['txn_id']!r} is not a transaction")
        link(doc, txn, int(lp.get("amount", txn["amount"])), SEED_TIME)
    return doc


def synthetic_seed(
    n_invoices: int,
    *,
    currency: str = "USD",
    amount_due: int = 10000,
    prefix: str = "BINV-",
    seed: int = 0,
) -> dict[str, Any]:
    """``n_invoices`` payment_due invoices over a few customers, for benchmarks and big tests."""
    rng = random.Random(seed)
    n_customers = max(1, min(5, n_invoices))
    customers = [
        {"id": f"syn_cust_{k}", "currency": currency, "payment_sources": [f"pm_syn_{k}"]}
        for k in range(n_customers)
    ]
    width = max(6, len(str(n_invoices)))
    invoices = [
        {
            "id": f"{prefix}{i + 1:0{width}d}",
            "customer": customers[rng.randrange(n_customers)]["id"],
            "status": "payment_due",
            "total": amount_due,
        }
        for i in range(n_invoices)
    ]
    return {"customers": customers, "invoices": invoices}
