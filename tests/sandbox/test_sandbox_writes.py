"""The five writes over HTTP: Chargebee's rules, v1 vs v2 params, and every error branch."""

from __future__ import annotations

import httpx
import pytest
from sbx_helpers import Sandbox, error, ok, run

RP = {"transaction[payment_method]": "bank_transfer"}


async def _invoice(c: httpx.AsyncClient, ident: str) -> dict:
    return ok(await c.get(f"/invoices/{ident}"))["invoice"]


def test_record_payment_partial_then_overpay(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            body = ok(
                await c.post(
                    "/invoices/INV-1002/record_payment",
                    data={
                        **RP,
                        "transaction[amount]": "5050",
                        "transaction[reference_number]": "DEP-1",
                        "transaction[date]": "1767300000",
                        "comment": "part",
                    },
                )
            )
            invoice, txn = body["invoice"], body["transaction"]
            assert (invoice["status"], invoice["amount_due"], invoice["amount_paid"]) == (
                "payment_due",
                40000,
                5050,
            )
            assert invoice["amount_to_collect"] == 40000
            assert txn["reference_number"] == "DEP-1" and txn["date"] == 1767300000
            assert invoice["linked_payments"][-1] == {
                "txn_id": txn["id"],
                "applied_amount": 5050,
                "applied_at": int(sandbox.clock.t),
                "txn_status": "success",
                "txn_date": 1767300000,
                "txn_amount": 5050,
            }
            body = ok(
                await c.post(
                    "/invoices/INV-1002/record_payment", data={**RP, "transaction[amount]": "50000"}
                )
            )
            assert body["invoice"]["status"] == "paid" and body["invoice"]["amount_due"] == 0
            assert body["transaction"]["amount_unused"] == 10000
            assert ok(await c.get("/customers/cust_acme"))["customer"]["excess_payments"] == 10000
            found = ok(await c.get("/transactions", params={"reference_number[is]": "DEP-1"}))
            assert [e["transaction"]["id"] for e in found["list"]] == [txn["id"]]

    run(go())
    assert [e["amount"] for e in sandbox.ledger()] == [5050, 50000]


def test_record_payment_defaults_to_amount_due_and_failure_changes_nothing(
    sandbox: Sandbox,
) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            failed = ok(
                await c.post(
                    "/invoices/INV-1017/record_payment",
                    data={**RP, "transaction[status]": "failure"},
                )
            )
            assert failed["invoice"]["amount_due"] == 7500
            assert failed["transaction"]["status"] == "failure"
            body = ok(await c.post("/invoices/INV-1017/record_payment", data=RP))
            assert body["transaction"]["amount"] == 7500 and body["invoice"]["status"] == "paid"

    run(go())


@pytest.mark.parametrize("invoice", ["INV-1003", "INV-1006", "INV-1010"])
def test_record_payment_needs_an_open_invoice(sandbox: Sandbox, invoice: str) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            error(
                await c.post(f"/invoices/{invoice}/record_payment", data=RP),
                409,
                "invalid_state_for_request",
            )

    run(go())
    assert sandbox.ledger() == []


def test_record_payment_posted_and_not_paid_are_open(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            ok(await c.post("/invoices/INV-1008/record_payment", data=RP))
            ok(await c.post("/invoices/INV-1005/record_payment", data=RP))

    run(go())


def test_v1_record_payment_uses_flat_params(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client("v1") as c:
            body = ok(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data={
                        "amount": "20000",
                        "payment_method": "direct_debit",
                        "paid_at": "1767300000",
                        "reference_number": "V1-REF",
                        "memo": "v1 payment",
                    },
                )
            )
            assert body["invoice"]["amount_due"] == 100000
            assert body["transaction"]["payment_method"] == "direct_debit"
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data={"amount": "1", "payment_method": "cash"},
                ),
                400,
                "param_wrong_value",
                "paid_at",
            )
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment", data={**RP, "paid_at": "1767300000"}
                ),
                400,
                "param_wrong_value",
                "transaction[payment_method]",
            )
            # v1 has no posted status: INV-1008 (posted) is payment_due there and payable
            assert ok(await c.get("/invoices/INV-1008"))["invoice"]["status"] == "payment_due"
            error(
                await c.post(
                    "/invoices/INV-1006/record_payment",
                    data={"payment_method": "cash", "paid_at": "1767300000"},
                ),
                409,
                "invalid_state_for_request",
            )
        async with sandbox.client() as c:
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data={"transaction[payment_method]": "direct_debit"},
                ),
                400,
                "param_wrong_value",
                "transaction[payment_method]",
            )
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data={"amount": "1", "payment_method": "cash"},
                ),
                400,
                "param_wrong_value",
            )

    run(go())
    assert [(e["version"], e["params"]["memo"]) for e in sandbox.ledger()] == [("v1", "v1 payment")]


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({**RP, "transaction[amount]": "0"}, "transaction[amount]"),
        ({**RP, "transaction[amount]": "12.50"}, "transaction[amount]"),
        ({**RP, "transaction[amount]": "-5"}, "transaction[amount]"),
        ({"transaction[amount]": "100"}, "transaction[payment_method]"),
        ({}, "transaction[payment_method]"),
        ({**RP, "transaction[date]": "yesterday"}, "transaction[date]"),
    ],
)
def test_record_payment_bad_values(sandbox: Sandbox, data: dict, param: str) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            error(
                await c.post("/invoices/INV-1001/record_payment", data=data),
                400,
                "param_wrong_value",
                param,
            )

    run(go())
    assert sandbox.ledger() == []


MISSPELLED = [
    (
        "v2",
        "/invoices/INV-1001/record_payment",
        {**RP, "transaction[amout]": "5"},
        "transaction[amout]",
    ),
    ("v2", "/invoices/INV-1001/collect_payment", {"ammount": "5"}, "ammount"),
    (
        "v2",
        "/invoices/INV-1014/apply_payments",
        {"transaction[id][0]": "txn_hooli_1"},
        "transaction[id][0]",
    ),
    ("v2", "/invoices/INV-1011/close", {"invoice_notes": "x"}, "invoice_notes"),
    (
        "v2",
        "/invoices/charge",
        {"customer_id": "cust_acme", "amount": "5", "description": "d", "curency_code": "USD"},
        "curency_code",
    ),
    (
        "v1",
        "/invoices/INV-1001/record_payment",
        {"amount": "5", "payment_method": "cash", "paid_at": "1767300000", "comment": "x"},
        "comment",
    ),
    (
        "v1",
        "/invoices/INV-1001/collect_payment",
        {"payment_source_id": "pm_acme_card"},
        "payment_source_id",
    ),
    ("v1", "/invoices/INV-1011/collect", {"comment": "x"}, "comment"),
    (
        "v1",
        "/invoices/charge",
        {"customer_id": "cust_acme", "amount": "5", "description": "d", "currency_code": "USD"},
        "currency_code",
    ),
]


@pytest.mark.parametrize(("version", "path", "data", "param"), MISSPELLED)
def test_each_write_rejects_a_misspelled_param(
    sandbox: Sandbox,
    version: str,
    path: str,
    data: dict,
    param: str,
) -> None:
    async def go() -> None:
        async with sandbox.client(version) as c:
            body = error(await c.post(path, data=data), 400, "param_wrong_value", param)
            assert param in body["message"]

    run(go())
    assert sandbox.ledger() == []


def test_writes_on_unknown_invoice_are_404(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            for action, data in (
                ("record_payment", RP),
                ("collect_payment", {}),
                ("apply_payments", {}),
                ("close", {}),
            ):
                error(
                    await c.post(f"/invoices/INV-9999/{action}", data=data),
                    404,
                    "resource_not_found",
                )

    run(go())


def test_collect_payment_charges_the_primary_source(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            body = ok(await c.post("/invoices/INV-1004/collect_payment", data={"amount": "9999"}))
            assert body["invoice"]["amount_due"] == 90000
            txn = body["transaction"]
            assert (txn["payment_method"], txn["payment_source_id"], txn["gateway"]) == (
                "card",
                "pm_globex_card",
                "chargebee",
            )
            body = ok(
                await c.post(
                    "/invoices/INV-1004/collect_payment",
                    data={"payment_source_id": "pm_globex_card"},
                )
            )
            assert body["invoice"]["status"] == "paid"
        async with sandbox.client("v1") as c:
            assert ok(await c.post("/invoices/INV-1009/collect_payment"))["invoice"]["status"] == (
                "paid"
            )

    run(go())
    assert [e["operation"] for e in sandbox.ledger()] == ["collect_payment"] * 3


def test_collect_payment_errors(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            no_source = error(
                await c.post("/invoices/INV-1007/collect_payment"),
                400,
                "payment_method_not_present",
            )
            assert no_source["type"] == "payment"
            declined = error(
                await c.post("/invoices/INV-1014/collect_payment"), 400, "payment_processing_failed"
            )
            assert declined["type"] == "payment"
            error(await c.post("/invoices/INV-1019/collect_payment"), 400, "invalid_request")
            error(
                await c.post("/invoices/INV-1004/collect_payment", data={"amount": "100000"}),
                400,
                "param_wrong_value",
                "amount",
            )
            error(
                await c.post("/invoices/INV-1004/collect_payment", data={"amount": "0"}),
                400,
                "param_wrong_value",
                "amount",
            )
            error(
                await c.post(
                    "/invoices/INV-1004/collect_payment", data={"payment_source_id": "pm_other"}
                ),
                404,
                "resource_not_found",
                "payment_source_id",
            )
            error(
                await c.post("/invoices/INV-1003/collect_payment"), 409, "invalid_state_for_request"
            )
            assert (await _invoice(c, "INV-1014"))["amount_due"] == 40000

    run(go())
    assert sandbox.ledger() == []


def test_apply_payments_takes_the_smallest_of_requested_unused_and_due(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            body = ok(
                await c.post(
                    "/invoices/INV-1014/apply_payments",
                    data={
                        "transactions[id][0]": "txn_hooli_1",
                        "transactions[amount][0]": "25000",
                        "transactions[id][1]": "txn_hooli_2",
                        "transactions[amount][1]": "99999",
                    },
                )
            )
            invoice = body["invoice"]
            assert set(body) == {"invoice"}
            assert [(p["txn_id"], p["applied_amount"]) for p in invoice["linked_payments"]] == [
                ("txn_hooli_1", 25000),
                ("txn_hooli_2", 15000),
            ]
            assert invoice["status"] == "paid"
            txns = ok(await c.get("/transactions", params={"customer_id[is]": "cust_hooli"}))
            assert [e["transaction"]["amount_unused"] for e in txns["list"]] == [5000, 5000]
            customer = ok(await c.get("/customers/cust_hooli"))["customer"]
            assert customer["excess_payments"] == 10000
            # no transactions named: the customer's excess payments are applied
            body = ok(await c.post("/invoices/INV-1015/apply_payments"))
            assert body["invoice"]["amount_due"] == 15000
            assert ok(await c.get("/customers/cust_hooli"))["customer"]["excess_payments"] == 0
            error(
                await c.post("/invoices/INV-1015/apply_payments"), 409, "invalid_state_for_request"
            )

    run(go())
    assert [e["amount"] for e in sandbox.ledger()] == [40000, 10000]


def test_apply_payments_errors(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            error(
                await c.post(
                    "/invoices/INV-1014/apply_payments", data={"transactions[id][0]": "txn_nope"}
                ),
                404,
                "resource_not_found",
                "transactions[id][0]",
            )
            error(
                await c.post(
                    "/invoices/INV-1014/apply_payments",
                    data={"transactions[id][0]": "txn_seed_1003"},
                ),
                400,
                "param_wrong_value",
                "transactions[id][0]",
            )
            error(
                await c.post(
                    "/invoices/INV-1014/apply_payments", data={"transactions[amount][0]": "5"}
                ),
                400,
                "param_wrong_value",
                "transactions[amount][0]",
            )
            error(
                await c.post(
                    "/invoices/INV-1014/apply_payments",
                    data={"transactions[id][0]": "txn_hooli_1", "transactions[amount][0]": "0"},
                ),
                400,
                "param_wrong_value",
                "transactions[amount][0]",
            )
            error(
                await c.post("/invoices/INV-1001/apply_payments"), 409, "invalid_state_for_request"
            )
        async with sandbox.client("v1") as c:
            error(await c.post("/invoices/INV-1014/apply_payments"), 404, "resource_not_found")

    run(go())
    assert sandbox.ledger() == []


def test_close_pending_invoice_v2_and_v1(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            invoice = ok(
                await c.post(
                    "/invoices/INV-1012/close",
                    data={
                        "comment": "closing",
                        "invoice_note": "thanks",
                        "remove_general_note": "true",
                    },
                )
            )["invoice"]
            assert (invoice["status"], invoice["amount_due"]) == ("payment_due", 5000)
            # acme has auto_collection on: closing charges its card
            assert ok(await c.post("/invoices/INV-1011/close"))["invoice"]["status"] == "paid"
            error(await c.post("/invoices/INV-1013/close"), 409, "invalid_state_for_request")
            error(await c.post("/invoices/INV-1001/close"), 409, "invalid_state_for_request")
            error(
                await c.post("/invoices/INV-1012/close", data={"remove_general_note": "yes"}),
                400,
                "param_wrong_value",
                "remove_general_note",
            )
        async with sandbox.client("v1") as c:
            invoice = ok(await c.post("/invoices/INV-1010/collect"))["invoice"]
            assert invoice["status"] == "payment_due"
            error(await c.post("/invoices/INV-1010/close"), 404, "resource_not_found")

    run(go())
    assert [(e["version"], e["operation"]) for e in sandbox.ledger()] == [
        ("v2", "close"),
        ("v2", "close"),
        ("v1", "close"),
    ]
    assert sandbox.ledger()[1]["transaction_id"] is not None


def test_charge_creates_a_payment_due_invoice(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            invoice = ok(
                await c.post(
                    "/invoices/charge",
                    data={
                        "customer_id": "cust_kuwait",
                        "amount": "1500",
                        "description": "Late fee",
                        "currency_code": "KWD",
                    },
                )
            )["invoice"]
            assert (invoice["status"], invoice["amount_due"], invoice["currency_code"]) == (
                "payment_due",
                1500,
                "KWD",
            )
            assert invoice["line_items"][0]["description"] == "Late fee"
            assert (await _invoice(c, invoice["id"]))["total"] == 1500
            error(
                await c.post(
                    "/invoices/charge",
                    data={"customer_id": "nobody", "amount": "1", "description": "x"},
                ),
                404,
                "resource_not_found",
                "customer_id",
            )
            error(
                await c.post(
                    "/invoices/charge",
                    data={
                        "customer_id": "cust_acme",
                        "amount": "1",
                        "description": "x",
                        "currency_code": "EUR",
                    },
                ),
                400,
                "param_wrong_value",
                "currency_code",
            )
            error(
                await c.post(
                    "/invoices/charge",
                    data={"customer_id": "cust_acme", "amount": "0", "description": "x"},
                ),
                400,
                "param_wrong_value",
                "amount",
            )
            error(
                await c.post("/invoices/charge", data={"customer_id": "cust_acme", "amount": "5"}),
                400,
                "param_wrong_value",
                "description",
            )
            error(
                await c.post("/invoices/charge", data={"amount": "5", "description": "x"}),
                400,
                "param_wrong_value",
                "customer_id",
            )
        async with sandbox.client("v1") as c:
            v1 = ok(
                await c.post(
                    "/invoices/charge",
                    data={"customer_id": "cust_acme", "amount": "700", "description": "v1 fee"},
                )
            )["invoice"]
            assert v1["id"] != invoice["id"]

    run(go())
    assert [e["invoice_id"] is not None for e in sandbox.ledger()] == [True, True]


PC2 = "/invoices/create_for_charge_items_and_charges"


def test_catalog_2_charge_creates_an_invoice_of_ad_hoc_lines(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            invoice = ok(
                await c.post(PC2, data={
                    "customer_id": "cust_kuwait", "currency_code": "KWD",
                    "charges[amount][0]": "1500", "charges[description][0]": "Late fee",
                    "charges[amount][1]": "250", "charges[description][1]": "Courier",
                    "po_number": "KW-9",
                })
            )["invoice"]
            assert (invoice["status"], invoice["total"], invoice["amount_due"]) == (
                "payment_due", 1750, 1750)
            assert [(li["description"], li["amount"], li["entity_type"])
                    for li in invoice["line_items"]] == [
                ("Late fee", 1500, "adhoc"), ("Courier", 250, "adhoc")]
            assert (await _invoice(c, invoice["id"]))["po_number"] == "KW-9"
            for data, status, code, param in [
                ({"customer_id": "nobody", "charges[amount][0]": "1"}, 404,
                 "resource_not_found", "customer_id"),
                ({"customer_id": "cust_acme", "currency_code": "EUR",
                  "charges[amount][0]": "1"}, 400, "param_wrong_value", "currency_code"),
                ({"customer_id": "cust_acme", "charges[amount][0]": "0"}, 400,
                 "param_wrong_value", "charges[amount][0]"),
                ({"customer_id": "cust_acme", "charges[description][0]": "x"}, 400,
                 "param_wrong_value", "charges[amount][0]"),
                ({"customer_id": "cust_acme", "item_prices[item_price_id][0]": "gold-USD"},
                 404, "resource_not_found", "item_prices[item_price_id][0]"),
                ({"customer_id": "cust_acme", "charges[amount][0]": "1",
                  "charges[descripton][0]": "x"}, 400, "param_wrong_value", None),
            ]:
                error(await c.post(PC2, data=data), status, code, param)
        async with sandbox.client("v1") as c:  # not an API v1 operation: no such POST route
            answer = await c.post(PC2, data={"customer_id": "cust_acme", "charges[amount][0]": "1"})
            assert answer.status_code == 405

    run(go())
    assert [(e["operation"], e["amount"]) for e in sandbox.ledger()] == [("charge", 1750)]
