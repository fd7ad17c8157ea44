"""Reads over HTTP: retrieve, list with filters and paging, auth."""

from __future__ import annotations

import pytest
from sbx_helpers import Sandbox, error, ok, run

from batchpay.sandbox import synthetic_seed


def test_retrieve_invoice_customer_and_404(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            invoice = ok(await c.get("/invoices/INV-1003"))["invoice"]
            assert invoice["status"] == "paid" and invoice["amount_paid"] == 30000
            assert invoice["linked_payments"][0]["txn_id"] == "txn_seed_1003"
            assert "object" not in invoice and invoice["deleted"] is False  # not in the spec
            customer = ok(await c.get("/customers/cust_hooli"))["customer"]
            assert customer["excess_payments"] == 50000
            assert "_payment_sources" not in customer
            error(await c.get("/invoices/NOPE"), 404, "resource_not_found")
            error(await c.get("/customers/nobody"), 404, "resource_not_found")
            error(await c.get("/no/such/route"), 404, "resource_not_found")

    run(go())


def test_v1_reads_share_the_state(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client("v1") as c:
            assert ok(await c.get("/invoices/INV-1009"))["invoice"]["currency_code"] == "JPY"
            assert ok(await c.get("/customers/cust_kuwait"))["customer"]["id"] == "cust_kuwait"
            # v1's list has no filters in the spec
            error(
                await c.get("/invoices", params={"id[in]": '["INV-1001"]'}),
                400,
                "param_wrong_value",
                "id[in]",
            )
            assert len(ok(await c.get("/invoices", params={"limit": 5}))["list"]) == 5

    run(go())


@pytest.mark.parametrize(
    "auth",
    [None, ("wrong_key", ""), ("", "test_batchpay_sandbox")],
    ids=["none", "wrong", "as-password"],
)
def test_auth_failures_are_401_untyped(sandbox: Sandbox, auth: object) -> None:
    async def go() -> None:
        async with sandbox.client(auth=auth) as c:
            body = error(await c.get("/invoices/INV-1001"), 401, "api_authentication_failed")
            assert body["type"] == "untyped"
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data={"transaction[payment_method]": "cash"},
                ),
                401,
                "api_authentication_failed",
            )

    run(go())
    assert sandbox.ledger() == []


def test_list_filters(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            body = ok(
                await c.get(
                    "/invoices",
                    params={
                        "id[starts_with]": "INV-10",  # the seed file grows; pin to 10xx
                        "customer_id[is]": "cust_globex",
                        "status[in]": '["payment_due","not_paid"]',
                    },
                )
            )
            assert [e["invoice"]["id"] for e in body["list"]] == ["INV-1004", "INV-1005"]
            assert "next_offset" not in body
            body = ok(
                await c.get(
                    "/invoices", params={"amount_due[gte]": "150000", "id[starts_with]": "INV-10"}
                )
            )
            assert {e["invoice"]["id"] for e in body["list"]} == {
                "INV-1007",
                "INV-1009",
                "INV-1020",
            }
            error(
                await c.get("/invoices", params={"limit": "101"}), 400, "param_wrong_value", "limit"
            )
            error(
                await c.get("/invoices", params={"stauts[in]": '["paid"]'}),
                400,
                "param_wrong_value",
                "stauts[in]",
            )
            error(
                await c.get("/invoices", params={"offset": "bogus"}),
                400,
                "param_wrong_value",
                "offset",
            )

    run(go())


def test_default_limit_is_10_and_paging_walks_everything(sandbox: Sandbox) -> None:
    async def go() -> list[str]:
        seen: list[str] = []
        base = {"id[starts_with]": "INV-10"}
        params = dict(base)
        async with sandbox.client() as c:
            while True:
                body = ok(await c.get("/invoices", params=params))
                assert len(body["list"]) <= 10
                seen += [e["invoice"]["id"] for e in body["list"]]
                if "next_offset" not in body:
                    return seen
                params = {**base, "offset": body["next_offset"]}

    assert run(go()) == [f"INV-{n}" for n in range(1001, 1021)]


def test_id_in_paging_over_more_than_100_invoices() -> None:
    sandbox = Sandbox(seed=synthetic_seed(250, seed=3))
    wanted = [f"BINV-{n:06d}" for n in range(1, 251, 2)]  # 125 ids

    async def go() -> list[str]:
        found: list[str] = []
        params = {"id[in]": "[" + ",".join(f'"{i}"' for i in wanted) + "]", "limit": "100"}
        async with sandbox.client() as c:
            first = ok(await c.get("/invoices", params=params))
            assert len(first["list"]) == 100 and first["next_offset"]
            second = ok(await c.get("/invoices", params={**params, "offset": first["next_offset"]}))
            assert "next_offset" not in second
            for body in (first, second):
                found += [e["invoice"]["id"] for e in body["list"]]
        return found

    assert sorted(run(go())) == wanted


def test_synthetic_seed_shape() -> None:
    seed = synthetic_seed(12, currency="EUR", amount_due=500, prefix="X-", seed=1)
    assert len(seed["invoices"]) == 12 and 1 < len(seed["customers"]) <= 5
    assert {i["status"] for i in seed["invoices"]} == {"payment_due"}
    assert seed == synthetic_seed(12, currency="EUR", amount_due=500, prefix="X-", seed=1)
    assert len({i["id"] for i in seed["invoices"]}) == 12


def test_transactions_list_filters(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            body = ok(await c.get("/transactions", params={"reference_number[is]": "DEP-0003"}))
            assert [e["transaction"]["id"] for e in body["list"]] == ["txn_seed_1003"]
            body = ok(
                await c.get(
                    "/transactions",
                    params={"customer_id[is]": "cust_hooli", "type[is]": "payment", "limit": "1"},
                )
            )
            assert body["list"][0]["transaction"]["id"] == "txn_hooli_1"
            body = ok(
                await c.get(
                    "/transactions",
                    params={"customer_id[is]": "cust_hooli", "offset": body["next_offset"]},
                )
            )
            assert [e["transaction"]["id"] for e in body["list"]] == ["txn_hooli_2"]
            error(
                await c.get("/transactions", params={"type[is]": "gift"}),
                400,
                "param_wrong_value",
                "type[is]",
            )
        async with sandbox.client("v1") as c:
            v1_list = ok(await c.get("/transactions", params={"limit": "100"}))["list"]
            assert "txn_seed_1003" in {e["transaction"]["id"] for e in v1_list}

    run(go())


def test_transactions_list_by_ids_date_window_and_type(sandbox: Sandbox) -> None:
    """The filters a batched reference check may use, as the v2 spec defines them: ``id[in]``
    (a JSON list), ``type[is]``, ``date[after]``/``date[before]`` (strict), ``date[between]``
    (inclusive); ``reference_number`` has no ``in`` operator."""
    seeded = 1767225600  # every seeded transaction's date

    async def ids(c: object, **params: str) -> list[str]:
        body = ok(await c.get("/transactions", params={"limit": "100", **params}))  # type: ignore[attr-defined]
        return sorted(e["transaction"]["id"] for e in body["list"])

    async def go() -> None:
        async with sandbox.client() as c:
            assert await ids(c, **{"id[in]": '["txn_seed_1003","txn_hooli_2","nope"]'}) == [
                "txn_hooli_2", "txn_seed_1003"]
            everything = await ids(c, **{"type[is]": "payment"})
            assert {"txn_hooli_1", "txn_hooli_2", "txn_seed_1003"} <= set(everything)
            window = {"date[after]": str(seeded - 1), "date[before]": str(seeded + 1)}
            assert await ids(c, **{"type[is]": "payment", **window}) == everything
            assert await ids(c, **{"date[after]": str(seeded)}) == []
            assert await ids(c, **{"date[before]": str(seeded)}) == []
            assert await ids(c, **{"date[between]": f"[{seeded},{seeded}]"}) == everything
            error(await c.get("/transactions", params={"reference_number[in]": '["DEP-0003"]'}),
                  400, "param_wrong_value", "reference_number[in]")
            error(await c.get("/transactions", params={"date[after]": "yesterday"}),
                  400, "param_wrong_value", "date[after]")

    run(go())


def test_schema_check_is_live() -> None:
    from sbx_helpers import assert_valid, specs_present

    if not specs_present():
        pytest.skip("../shared/chargebee is not present")
    with pytest.raises(AssertionError, match="Invoice does not fit"):
        assert_valid({"invoice": {"id": "x", "status": "settled"}})
