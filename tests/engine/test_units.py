"""Unit tests of the engine's parts: the sliding-window limiter (fake clock), the journal, and
the Executor's retry paths against the in-process sandbox with its faults."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchpay.chargebee.client import ChargebeeClient
from batchpay.chargebee.encode import encode
from batchpay.chargebee.retry import RetryPolicy
from batchpay.errors import RunRefused
from batchpay.execute import CallResult, Executor
from batchpay.journal import FAILED, IN_FLIGHT, POSTED, Journal
from batchpay.plan import PlannedCall, idempotency_key
from batchpay.ratelimit import SlidingWindowLimiter
from batchpay.sandbox import (
    DEFAULT_API_KEY,
    FaultConfig,
    SandboxStore,
    create_app,
    sandbox_transport,
    synthetic_seed,
)
from batchpay.sitestate import site_lock

# -- SlidingWindowLimiter -------------------------------------------------------------------


class FakeTime:
    """A clock and a sleep that only moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


@pytest.mark.parametrize(("rate", "calls"), [(1, 5), (5, 23), (150, 400)])
def test_limiter_never_more_than_rate_in_any_window(rate: int, calls: int) -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(rate, window=60.0, clock=fake.clock, sleep=fake.sleep)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        sent.append(fake.now)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(calls)))

    asyncio.run(main())
    assert len(sent) == calls
    assert sent == sorted(sent)
    assert _max_in_window(sent, 60.0) == min(rate, calls)
    # ... and it does not wait longer than it must: the (rate+1)-th call starts a window later.
    assert sent[min(rate, calls - 1)] - sent[0] <= 60.0 if calls > rate else fake.sleeps == []


def test_limiter_pause_holds_every_caller() -> None:
    fake = FakeTime()
    limiter = SlidingWindowLimiter(100, window=60.0, clock=fake.clock, sleep=fake.sleep)

    async def main() -> list[float]:
        await limiter.acquire()
        limiter.pause(7.5)
        times = []
        for _ in range(3):
            await limiter.acquire()
            times.append(fake.now)
        return times

    start = fake.now
    times = asyncio.run(main())
    assert all(t >= start + 7.5 for t in times)
    limiter.pause(1.0)  # a shorter pause never shortens a longer one in force
    assert limiter._paused_until >= start + 7.5


def test_limiter_rejects_a_rate_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindowLimiter(0)


# -- Journal --------------------------------------------------------------------------------


class Tick:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _begin(journal: Journal, key: str = "k1") -> None:
    journal.begin("site", key, job="job", action="record_payment", invoice_id="INV-1",
                  business_key="reference=R1", request={"method": "POST", "path": "/x"})


def test_journal_begin_settle_lookup(tmp_path: Path) -> None:
    clock = Tick()
    journal = Journal(tmp_path / "j.sqlite", clock=clock)
    _begin(journal)
    entry = journal.lookup("site", ["k1", "absent"])["k1"]
    assert (entry.state, entry.attempts, entry.first_sent_at) == (IN_FLIGHT, 1, 100.0)
    assert journal.lookup("other-site", ["k1"]) == {}
    clock.t = 105.0
    journal.settle("site", "k1", POSTED, http_status=200, transaction_id="txn_1")
    entry = journal.lookup("site", ["k1"])["k1"]
    assert (entry.state, entry.settled_at, entry.transaction_id) == (POSTED, 105.0, "txn_1")
    journal.close()
    reopened = Journal(tmp_path / "j.sqlite")
    assert reopened.lookup("site", ["k1"])["k1"].state == POSTED  # durable
    reopened.close()


def test_journal_keeps_first_sent_at_across_attempts(tmp_path: Path) -> None:
    clock = Tick()
    journal = Journal(tmp_path / "j.sqlite", clock=clock)
    _begin(journal)
    clock.t = 160.0
    _begin(journal)
    clock.t = 220.0
    _begin(journal)
    entry = journal.lookup("site", ["k1"])["k1"]
    assert (entry.attempts, entry.first_sent_at, entry.last_sent_at) == (3, 100.0, 220.0)
    journal.settle("site", "k1", FAILED, http_status=429)
    clock.t = 999.0  # a settled call begun again (a later run) starts a new window
    _begin(journal)
    assert journal.lookup("site", ["k1"])["k1"].first_sent_at == 999.0
    journal.close()


def test_journal_lookup_of_many_keys(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    keys = [f"k{i}" for i in range(1234)]
    for key in keys[::7]:
        _begin(journal, key)
    assert set(journal.lookup("site", keys)) == set(keys[::7])
    journal.close()


def test_journal_and_lock_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        journal = Journal(tmp_path / "sub" / "j.sqlite")
        _begin(journal)
        with site_lock(tmp_path / "sub", "acme-test.chargebee.com"):
            pass
    finally:
        os.umask(old)
    for path in (tmp_path / "sub").glob("*.sqlite*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "sub" / "locks").stat().st_mode) == 0o700
    journal.close()


def test_execute_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with site_lock(state, "acme-test.chargebee.com"):
        with pytest.raises(RunRefused, match="another execute"), \
                site_lock(state, "acme-test.chargebee.com"):
            pass
        with site_lock(state, "other-test.chargebee.com"):  # another site: its own lock
            pass
    with site_lock(state, "acme-test.chargebee.com"):  # released on exit
        pass


def test_execute_lock_leaves_no_lock_file(tmp_path: Path) -> None:
    """Issue 14: every execute left a ``*.lock`` behind."""
    locks = tmp_path / "locks"
    with site_lock(tmp_path, "acme-test.chargebee.com"):
        (lock,) = locks.glob("*.lock")
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert list(locks.glob("*.lock")) == []
    with pytest.raises(RuntimeError), site_lock(tmp_path, "acme-test.chargebee.com"):
        raise RuntimeError("the run failed")
    assert list(locks.glob("*.lock")) == []


# -- Executor retry paths ---------------------------------------------------------------------

POLICY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)


class World:
    """An in-process sandbox with a fake clock, and a recorder of the Executor's sleeps."""

    def __init__(self, faults: FaultConfig | None = None) -> None:
        self.store = SandboxStore(":memory:")
        self.store.load_seed(synthetic_seed(3, prefix="U-"))
        self.store.load_seed({
            "customers": [{"id": "c_decline", "currency": "USD",
                           "payment_sources": [{"id": "pm_bad", "decline": True}]}],
            "invoices": [{"id": "U-DECLINE", "customer": "c_decline", "status": "payment_due",
                          "total": 5000}],
        })
        self.now = 1_800_000_000.0
        self.app = create_app(self.store, faults=faults, clock=lambda: self.now)
        self.sandbox = self.app.state.sandbox
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], None] = lambda n: None
        self.pauses: list[float] = []

    def limiter(self) -> SlidingWindowLimiter:
        limiter = SlidingWindowLimiter(1000)
        original = limiter.pause

        def pause(seconds: float) -> None:
            self.pauses.append(seconds)
            original(seconds)

        limiter.pause = pause  # type: ignore[method-assign]
        return limiter


def call_for(invoice: str, action: str = "record_payment", amount: int = 100) -> PlannedCall:
    params: dict[str, object] = {"invoice_id": invoice, "amount": amount}
    if action == "record_payment":
        params["payment_method"] = "bank_transfer"
    request = encode(action, "v2", params)
    business = f"{action}:{invoice}:{amount}"
    return PlannedCall(key=idempotency_key("sandbox", action, business), action=action,
                       request=request, rows=[], business_key=business, params=params)


def execute(
    world: World, calls: list[PlannedCall], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, *, transport: httpx.AsyncBaseTransport | None = None,
    stop: bool = False,
) -> tuple[dict[str, CallResult], Journal]:
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float, result: Any = None) -> Any:
        world.sleeps.append(seconds)
        world.now += seconds  # the sandbox sees the time pass
        world.on_sleep(len(world.sleeps))
        return await real_sleep(0, result)

    monkeypatch.setattr("batchpay.execute.asyncio.sleep", fake_sleep)
    journal = Journal(tmp_path / "journal.sqlite", clock=lambda: world.now)

    async def main() -> dict[str, CallResult]:
        async with ChargebeeClient("http://127.0.0.1/api/v2", DEFAULT_API_KEY,
                                   transport=transport or sandbox_transport(world.app)) as client:
            executor = Executor(client=client, journal=journal, site="sandbox", job="unit",
                                policy=POLICY, concurrency=4, limiter=world.limiter(),
                                rand=lambda: 0.0)
            if stop:
                executor.stop.set()
            return await executor.run(calls)

    results = run_async(main())
    monkeypatch.undo()
    return results, journal


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def test_429_rate_limit_retry_after_is_honoured_and_pauses_everyone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world = World(FaultConfig(rate_per_minute=1))
    calls = [call_for("U-000001"), call_for("U-000002")]
    results, journal = execute(world, calls, monkeypatch, tmp_path)
    assert all(r.state == POSTED for r in results.values())
    assert sorted(r.attempts for r in results.values()) == [1, 2]
    assert world.sleeps and min(world.sleeps) >= 59  # Retry-After: 60 (the window), not 0.01
    assert world.pauses and min(world.pauses) >= 59  # the whole site waits, not one call
    assert len(world.store.ledger()) == 2
    journal.close()


def test_429_without_retry_after_backs_off(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    world = World(FaultConfig(rate_per_minute=1, retry_after=False))
    results, journal = execute(world, [call_for("U-000001"), call_for("U-000002")],
                               monkeypatch, tmp_path)
    assert sorted(r.state for r in results.values()) == [FAILED, POSTED]  # gave up after 4
    failed = next(r for r in results.values() if r.state == FAILED)
    assert (failed.attempts, failed.http_status, failed.api_error_code) == (
        4, 429, "api_request_limit_exceeded")
    assert world.sleeps == [0.01, 0.02, 0.04]  # capped exponential backoff, no Retry-After
    assert len(world.store.ledger()) == 1
    journal.close()


def test_lock_timeout_is_retried_without_pausing_the_site(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world = World()
    lock = world.sandbox.faults._locks.setdefault("U-000001", asyncio.Lock())

    async def hold() -> None:
        await lock.acquire()

    lock_loop_free = asyncio.new_event_loop()
    lock_loop_free.run_until_complete(hold())  # held as if another request were writing
    lock_loop_free.close()
    world.on_sleep = lambda n: lock.release() if lock.locked() else None
    results, journal = execute(world, [call_for("U-000001")], monkeypatch, tmp_path)
    (result,) = results.values()
    assert (result.state, result.attempts) == (POSTED, 2)
    assert world.sleeps[0] >= 1  # Retry-After: 1 on lock_timeout
    assert world.pauses == []
    journal.close()


def test_5xx_retried_with_the_same_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = World(FaultConfig(error_5xx_rate=1.0))
    world.on_sleep = lambda n: world.sandbox.faults.configure(FaultConfig()) if n == 2 else None
    results, journal = execute(world, [call_for("U-000001")], monkeypatch, tmp_path)
    (result,) = results.values()
    assert (result.state, result.attempts) == (POSTED, 3)
    (entry,) = world.store.ledger()
    assert entry["idempotency_key"] == call_for("U-000001").key
    row = journal.lookup("sandbox", [entry["idempotency_key"]])[entry["idempotency_key"]]
    assert (row.state, row.attempts) == (POSTED, 3)
    journal.close()


def test_5xx_exhausted_is_failed_or_needs_review_never_lost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A 503 changed nothing, a 500 may have: once any attempt got a 500 the call needs review
    (left in flight for the next run), whatever the last attempt got; only 503s: failed."""
    world = World(FaultConfig(error_5xx_rate=1.0, seed=3))
    inner = sandbox_transport(world.app)
    statuses: dict[str, list[int]] = {}

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await inner.handle_async_request(request)
            key = request.headers.get("chargebee-idempotency-key", "")
            statuses.setdefault(key, []).append(response.status_code)
            return response

    calls = [call_for(f"U-00000{i}") for i in (1, 2, 3)]
    results, journal = execute(world, calls, monkeypatch, tmp_path, transport=Recording())
    entries = journal.lookup("sandbox", [c.key for c in calls])
    for call in calls:
        result = results[call.key]
        assert result.attempts == POLICY.max_attempts == len(statuses[call.key])
        if 500 in statuses[call.key]:
            assert result.state == "needs_review" and entries[call.key].state == IN_FLIGHT
            assert "outcome unknown" in result.message
        else:
            assert result.state == FAILED and entries[call.key].state == FAILED
    assert any(500 in s and s[-1] == 503 for s in statuses.values())  # the case that matters
    assert world.store.ledger() == []
    journal.close()


def test_dropped_response_is_resent_with_the_same_key_and_replayed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world = World(FaultConfig(drop_after_apply_rate=1.0))
    world.on_sleep = lambda n: world.sandbox.faults.configure(FaultConfig())
    results, journal = execute(world, [call_for("U-000002")], monkeypatch, tmp_path)
    (result,) = results.values()
    assert (result.state, result.attempts, result.replayed) == (POSTED, 2, True)
    assert len(world.store.ledger()) == 1 and world.store.replays() == 1
    journal.close()


def test_connect_error_is_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = World()
    inner = sandbox_transport(world.app)
    failures = {"left": 2}

    class Refusing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if failures["left"]:
                failures["left"] -= 1
                raise httpx.ConnectError("connection refused", request=request)
            return await inner.handle_async_request(request)

    results, journal = execute(world, [call_for("U-000003")], monkeypatch, tmp_path,
                               transport=Refusing())
    (result,) = results.values()
    assert (result.state, result.attempts) == (POSTED, 3)
    journal.close()


def test_connect_error_exhausted_is_failed_not_review(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    class Refusing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

    world = World()
    call = call_for("U-000003")
    results, journal = execute(world, [call], monkeypatch, tmp_path, transport=Refusing())
    assert results[call.key].state == FAILED  # surely never sent
    assert journal.lookup("sandbox", [call.key])[call.key].state == FAILED
    journal.close()


def test_payment_error_is_not_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = World()
    call = call_for("U-DECLINE", action="collect_payment", amount=5000)
    results, journal = execute(world, [call], monkeypatch, tmp_path)
    result = results[call.key]
    assert (result.state, result.attempts, result.http_status) == (FAILED, 1, 400)
    assert result.api_error_code == "payment_processing_failed"
    assert world.sleeps == []
    journal.close()


def test_stop_event_means_nothing_is_sent(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    world = World()
    calls = [call_for("U-000001"), call_for("U-000002")]
    results, journal = execute(world, calls, monkeypatch, tmp_path, stop=True)
    assert {r.state for r in results.values()} == {"not_sent"}
    assert world.store.ledger() == []
    assert journal.lookup("sandbox", [c.key for c in calls]) == {}
    journal.close()


def test_two_calls_on_one_invoice_never_overlap(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    """With lock_timeout on and latency, two payments on one invoice both go through in one
    attempt each: the Executor serialises writes per invoice."""
    world = World(FaultConfig(latency_ms=5, lock_timeout=True))
    calls = [call_for("U-000001", amount=a) for a in (100, 200, 300)]
    results, journal = execute(world, calls, monkeypatch, tmp_path)
    assert [results[c.key].attempts for c in calls] == [1, 1, 1]
    assert len(world.store.ledger()) == 3
    journal.close()
