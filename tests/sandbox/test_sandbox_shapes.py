"""Issue 12 item 4: each API version's documents have exactly the fields its spec declares.

A v1 customer has no currency, channel or payment source id (it has a ``payment_method``
object); a v1 invoice has ``amount`` and ``linked_transactions`` instead of ``total`` and
``linked_payments``. The sandbox served v2 fields on v1, which hid a client bug.
"""

from __future__ import annotations

import pytest
from sbx_helpers import KINDS, Sandbox, assert_valid, ok, run, spec, undeclared_keys

pytestmark = pytest.mark.skipif(spec("v1") is None, reason="../shared/chargebee is not present")


def _every_document(sandbox: Sandbox, version: str) -> list[dict]:
    """Every kind of document in one version, after writes that link payments to invoices."""
    async def go() -> list[dict]:
        async with sandbox.client(version) as c:
            form = ({"transaction[payment_method]": "cash", "transaction[amount]": "1000"}
                    if version == "v2" else
                    {"payment_method": "cash", "amount": "1000", "paid_at": "1767225600"})
            bodies = [ok(await c.post("/invoices/INV-1001/record_payment", data=form))]
            bodies.append(ok(await c.post("/invoices/INV-2302/collect_payment", data={})))
            bodies.append(ok(await c.get("/invoices", params={"limit": "100"})))
            bodies.append(ok(await c.get("/transactions", params={"limit": "100"})))
            for customer in ("cust_acme", "cust_initech", "cust_appstore", "cust_hooli"):
                bodies.append(ok(await c.get(f"/customers/{customer}")))
            return bodies

    return run(go())


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_documents_have_only_the_fields_the_spec_declares(version: str) -> None:
    bodies = _every_document(Sandbox(), version)
    seen = {key for body in bodies for doc in body.get("list", [body]) for key in doc}
    assert seen >= {"invoice", "transaction", "customer"}
    for body in bodies:
        assert_valid(body, version)  # ok() checked the same; here the check is the point
        for doc in body.get("list", [body]):
            for key, kind in KINDS:
                if key in doc:
                    schema = spec(version)["components"]["schemas"][kind]  # type: ignore[index]
                    assert undeclared_keys(doc[key], schema) == []


def test_a_v1_customer_has_no_v2_fields_and_shows_its_card() -> None:
    async def go() -> tuple[dict, dict, dict]:
        sandbox = Sandbox()
        async with sandbox.client("v1") as c:
            acme = ok(await c.get("/customers/cust_acme"))["customer"]
            initech = ok(await c.get("/customers/cust_initech"))["customer"]
            invoice = ok(await c.get("/invoices/INV-1003"))["invoice"]
        return acme, initech, invoice

    acme, initech, invoice = run(go())
    for v2_only in ("preferred_currency_code", "primary_payment_source_id", "channel"):
        assert v2_only not in acme
    assert acme["payment_method"]["status"] == "valid"
    assert "payment_method" not in initech  # no card on file
    assert invoice["amount"] == 30000 and "total" not in invoice
    assert invoice["linked_transactions"][0]["txn_id"] == "txn_seed_1003"


def test_the_key_check_catches_an_undeclared_field() -> None:
    with pytest.raises(AssertionError, match="preferred_currency_code"):
        assert_valid({"customer": {
            "id": "c", "auto_collection": "off", "allow_direct_debit": False, "created_at": 1,
            "excess_payments": 0, "account_credits": 0, "refundable_credits": 0,
            "preferred_currency_code": "USD",
        }}, "v1")
