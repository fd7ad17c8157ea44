"""Idempotency keys: replay, 422 on different params, forgotten after 30 minutes, persisted."""

from __future__ import annotations

from pathlib import Path

from sbx_helpers import SAMPLE_SEED, Sandbox, error, ok, run

from batchpay.sandbox import SandboxStore, load_seed_file

PAY = {"transaction[payment_method]": "check", "transaction[amount]": "1000"}
KEY = {"chargebee-idempotency-key": "row-7"}


def test_same_key_same_params_replays_without_effect(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            first = await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY)
            again = await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY)
            assert ok(again) == ok(first)
            assert again.headers["chargebee-idempotency-replayed"] == "true"
            assert "chargebee-idempotency-replayed" not in first.headers
            assert ok(await c.get("/invoices/INV-1001"))["invoice"]["amount_due"] == 119000
        async with sandbox.control() as c:
            body = (await c.get("/_sandbox/ledger")).json()
        assert len(body["ledger"]) == 1 and body["replays"] == 1
        assert body["ledger"][0]["idempotency_key"] == "row-7"
        assert body["ledger"][0]["params"] == PAY

    run(go())


def test_same_key_different_params_is_422(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            ok(await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY))
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data={**PAY, "transaction[amount]": "2000"},
                    headers=KEY,
                ),
                422,
                "unable_to_process_request",
            )
            error(
                await c.post("/invoices/INV-1002/record_payment", data=PAY, headers=KEY),
                422,
                "unable_to_process_request",
            )

    run(go())
    assert len(sandbox.ledger()) == 1


def test_key_is_forgotten_after_30_minutes(sandbox: Sandbox) -> None:
    async def go() -> list[int]:
        statuses = []
        async with sandbox.client() as c, sandbox.control() as ctl:
            ok(await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY))
            await ctl.post("/_sandbox/clock", json={"advance_seconds": 29 * 60})
            replay = await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY)
            statuses.append(int("chargebee-idempotency-replayed" in replay.headers))
            now = (await ctl.post("/_sandbox/clock", json={"advance_seconds": 61})).json()["now"]
            assert now == sandbox.clock.t + 30 * 60 + 1
            fresh = await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY)
            statuses.append(int("chargebee-idempotency-replayed" in fresh.headers))
            assert ok(fresh)["invoice"]["amount_due"] == 118000
            bad = await ctl.post("/_sandbox/clock", json={"advance_seconds": "soon"})
            assert bad.status_code == 400
        return statuses

    assert run(go()) == [1, 0]
    assert len(sandbox.ledger()) == 2


def test_idempotency_records_and_effects_persist_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first = Sandbox(store=SandboxStore(path))

    async def pay(sandbox: Sandbox) -> dict:
        async with sandbox.client() as c:
            response = await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=KEY)
            return {
                "replayed": response.headers.get("chargebee-idempotency-replayed"),
                "invoice": ok(response)["invoice"],
            }

    assert run(pay(first))["replayed"] is None
    first.store.close()
    # a second process/run: reopen the file and re-seed (which must not reset anything)
    second = Sandbox(store=SandboxStore(path))
    assert second.store.load_seed(load_seed_file(SAMPLE_SEED)) == {
        "customers": 0,
        "invoices": 0,
        "transactions": 0,
    }
    result = run(pay(second))
    assert result["replayed"] == "true" and result["invoice"]["amount_due"] == 119000
    assert len(second.ledger()) == 1


def test_overlong_key_is_rejected(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with sandbox.client() as c:
            error(
                await c.post(
                    "/invoices/INV-1001/record_payment",
                    data=PAY,
                    headers={"chargebee-idempotency-key": "k" * 101},
                ),
                400,
                "param_wrong_value",
                "chargebee-idempotency-key",
            )

    run(go())
