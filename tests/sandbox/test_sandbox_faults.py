"""Limits and injected faults, in process."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sbx_helpers import Sandbox, error, ok, run

from batchpay.sandbox import FaultConfig, FaultConfigError

PAY = {"transaction[payment_method]": "cash", "transaction[amount]": "100"}


def test_rate_limit_with_retry_after_and_window_reset() -> None:
    sandbox = Sandbox(FaultConfig(rate_per_minute=3))

    async def go() -> None:
        async with sandbox.client() as c, sandbox.control() as ctl:
            for _ in range(3):
                ok(await c.get("/invoices/INV-1001"))
            sandbox.clock.t += 20
            limited = error(await c.get("/invoices/INV-1001"), 429, "api_request_limit_exceeded")
            assert limited["type"] == "operation_failed"
            refused = await c.post("/invoices/INV-1001/record_payment", data=PAY)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "40"
            await ctl.post("/_sandbox/clock", json={"advance_seconds": 40})
            ok(await c.post("/invoices/INV-1001/record_payment", data=PAY))

    run(go())
    assert len(sandbox.ledger()) == 1


def test_retry_after_can_be_switched_off() -> None:
    sandbox = Sandbox(FaultConfig(rate_per_minute=1, retry_after=False))

    async def go() -> httpx.Response:
        async with sandbox.client() as c:
            await c.get("/invoices/INV-1001")
            return await c.get("/invoices/INV-1001")

    response = run(go())
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_concurrency_limit() -> None:
    sandbox = Sandbox(FaultConfig(max_concurrent=2, latency_ms=150))

    async def go() -> list[int]:
        async with sandbox.client() as c:
            responses = await asyncio.gather(*(c.get(f"/invoices/INV-100{n}") for n in range(1, 6)))
        assert all(r.headers.get("Retry-After") == "1" for r in responses if r.status_code == 429)
        return sorted(r.status_code for r in responses)

    assert run(go()) == [200, 200, 429, 429, 429]


def test_lock_timeout_on_concurrent_writes_to_one_invoice() -> None:
    sandbox = Sandbox(FaultConfig(latency_ms=150))

    async def go() -> list[httpx.Response]:
        async with sandbox.client() as c:
            return list(
                await asyncio.gather(
                    c.post("/invoices/INV-1001/record_payment", data=PAY),
                    c.post("/invoices/INV-1001/record_payment", data=PAY),
                    c.post("/invoices/INV-1002/record_payment", data=PAY),
                )
            )

    first, second, other = run(go())
    ok(first)
    ok(other)
    error(second, 429, "lock_timeout")
    assert second.headers["Retry-After"] == "1"
    assert [e["invoice_id"] for e in sandbox.ledger()] == ["INV-1001", "INV-1002"]


def test_without_lock_timeout_concurrent_writes_queue() -> None:
    sandbox = Sandbox(FaultConfig(latency_ms=50, lock_timeout=False))

    async def go() -> list[int]:
        async with sandbox.client() as c:
            responses = await asyncio.gather(
                *(c.post("/invoices/INV-1001/record_payment", data=PAY) for _ in range(3))
            )
        return [r.status_code for r in responses]

    assert run(go()) == [200, 200, 200]
    assert len(sandbox.ledger()) == 3


def test_latency_delays_requests() -> None:
    sandbox = Sandbox(FaultConfig(latency_ms=100, latency_jitter_ms=50, seed=1))

    async def go() -> float:
        async with sandbox.client() as c:
            start = time.perf_counter()
            ok(await c.get("/invoices/INV-1001"))
            return time.perf_counter() - start

    assert run(go()) >= 0.1


def test_5xx_happens_before_applying() -> None:
    sandbox = Sandbox(FaultConfig(error_5xx_rate=1.0))

    async def go() -> None:
        async with sandbox.client() as c:
            for _ in range(6):
                response = await c.post(
                    "/invoices/INV-1001/record_payment",
                    data=PAY,
                    headers={"chargebee-idempotency-key": "k1"},
                )
                assert response.status_code in (500, 503)
                code = {500: "internal_error", 503: "internal_temporary_error"}
                error(response, response.status_code, code[response.status_code])

    run(go())
    assert sandbox.ledger() == []
    assert sandbox.store.invoice("INV-1001")["amount_due"] == 120000  # type: ignore[index]


def test_faults_are_deterministic_under_a_seed() -> None:
    def outcomes(seed: int) -> list[int]:
        sandbox = Sandbox(FaultConfig(error_5xx_rate=0.5, seed=seed))

        async def go() -> list[int]:
            async with sandbox.client() as c:
                return [(await c.get("/invoices/INV-1001")).status_code for _ in range(20)]

        return run(go())

    assert outcomes(7) == outcomes(7)
    assert set(outcomes(7)) > {200}
    assert outcomes(7) != outcomes(8)


def test_apply_then_drop_in_process_then_replay() -> None:
    sandbox = Sandbox(FaultConfig(drop_after_apply_rate=1.0))
    key = {"chargebee-idempotency-key": "drop-1"}

    async def go() -> None:
        async with sandbox.client() as c, sandbox.control() as ctl:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=key)
            assert len(sandbox.ledger()) == 1
            assert ok(await c.get("/invoices/INV-1001"))["invoice"]["amount_due"] == 119900
            await ctl.post("/_sandbox/clock", json={"advance_seconds": 600})
            replay = await c.post("/invoices/INV-1001/record_payment", data=PAY, headers=key)
            assert replay.headers["chargebee-idempotency-replayed"] == "true"
            assert ok(replay)["invoice"]["amount_due"] == 119900

    run(go())
    assert len(sandbox.ledger()) == 1


def test_faults_route_get_and_put() -> None:
    sandbox = Sandbox()

    async def go() -> None:
        async with sandbox.control() as ctl, sandbox.client() as c:
            assert (await ctl.get("/_sandbox/faults")).json() == FaultConfig().to_dict()
            put = await ctl.put("/_sandbox/faults", json={"rate_per_minute": 1, "seed": 4})
            assert put.json()["rate_per_minute"] == 1 and put.json()["latency_ms"] == 0
            ok(await c.get("/invoices/INV-1001"))
            error(await c.get("/invoices/INV-1001"), 429, "api_request_limit_exceeded")
            bad = await ctl.put("/_sandbox/faults", json={"rate_per_minit": 1})
            assert bad.status_code == 400 and "rate_per_minit" in bad.json()["message"]
            bad = await ctl.put("/_sandbox/faults", json={"error_5xx_rate": 2})
            assert bad.status_code == 400

    run(go())


def test_fault_config_validation() -> None:
    with pytest.raises(FaultConfigError, match="drop_after_apply_rate"):
        FaultConfig(drop_after_apply_rate=1.5)
    with pytest.raises(FaultConfigError, match="unknown"):
        FaultConfig.from_dict({"latency": 5})
    assert FaultConfig.from_dict({"latency_ms": 5}).latency_ms == 5


def test_seed_route_adds_without_duplicating() -> None:
    sandbox = Sandbox()
    extra = {
        "invoices": [
            {"id": "INV-2001", "customer": "cust_acme", "status": "payment_due", "total": 100},
            {"id": "INV-1001", "customer": "cust_acme", "status": "paid", "total": 1},
        ]
    }

    async def go() -> None:
        async with sandbox.control() as ctl, sandbox.client() as c:
            added = (await ctl.post("/_sandbox/seed", json=extra)).json()["added"]
            assert added == {"customers": 0, "invoices": 1, "transactions": 0}
            assert ok(await c.get("/invoices/INV-1001"))["invoice"]["status"] == "payment_due"
            assert ok(await c.get("/invoices/INV-2001"))["invoice"]["currency_code"] == "USD"
            bad = await ctl.post("/_sandbox/seed", json={"invoices": [{"id": "x"}]})
            assert bad.status_code == 400

    run(go())
