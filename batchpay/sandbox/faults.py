"""Limits and faults, all off by default and deterministic under ``FaultConfig.seed``.

The rate window runs on the sandbox clock (so tests can advance it); latency is real
``asyncio.sleep`` so concurrent requests really overlap.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

from batchpay.sandbox.errors import server_error, too_many_requests

WINDOW_SECONDS = 60.0


class FaultConfigError(ValueError):
    """A fault setting that is unknown or out of range."""


@dataclass
class FaultConfig:
    rate_per_minute: int | None = None
    max_concurrent: int | None = None
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    error_5xx_rate: float = 0.0
    drop_after_apply_rate: float = 0.0
    lock_timeout: bool = True
    retry_after: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("error_5xx_rate", "drop_after_apply_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise FaultConfigError(f"{name} must be between 0 and 1")
        for name in ("rate_per_minute", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise FaultConfigError(f"{name} must be at least 1 (or null for no limit)")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise FaultConfigError("latency_ms and latency_jitter_ms must not be negative")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultConfigError(f"unknown fault setting(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise FaultConfigError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The live state behind a FaultConfig: request window, in-flight counts, invoice locks."""

    def __init__(self, config: FaultConfig) -> None:
        self.configure(config)
        self.in_flight = 0
        self._window: deque[float] = deque()
        self._locks: dict[str, asyncio.Lock] = {}

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

    def _retry_after(self, seconds: float) -> int | None:
        return max(1, math.ceil(seconds)) if self.config.retry_after else None

    def admit(self, now: float) -> None:
        """Count a request in, or refuse it with 429 api_request_limit_exceeded."""
        limit = self.config.rate_per_minute
        while self._window and self._window[0] <= now - WINDOW_SECONDS:
            self._window.popleft()
        if limit is not None and len(self._window) >= limit:
            wait = self._window[0] + WINDOW_SECONDS - now
            raise too_many_requests(
                "api_request_limit_exceeded",
                f"Sorry, the request limit of {limit} requests per minute has been exceeded",
                self._retry_after(wait),
            )
        concurrent = self.config.max_concurrent
        if concurrent is not None and self.in_flight >= concurrent:
            raise too_many_requests(
                "api_request_limit_exceeded",
                f"Sorry, the limit of {concurrent} concurrent requests has been exceeded",
                self._retry_after(1),
            )
        self._window.append(now)
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1

    @asynccontextmanager
    async def invoice_lock(self, invoice_id: str | None) -> AsyncIterator[None]:
        """One write per invoice at a time: a second one gets 429 lock_timeout (or waits)."""
        if invoice_id is None:
            yield
            return
        lock = self._locks.setdefault(invoice_id, asyncio.Lock())
        if lock.locked() and self.config.lock_timeout:
            raise too_many_requests(
                "lock_timeout",
                f"Another request is being processed on invoice {invoice_id}. Please retry.",
                self._retry_after(1),
            )
        async with lock:
            yield

    async def latency(self) -> None:
        delay = self.config.latency_ms
        if self.config.latency_jitter_ms:
            delay += self.rng.randint(0, self.config.latency_jitter_ms)
        if delay:
            await asyncio.sleep(delay / 1000)

    def maybe_fail(self) -> None:
        """Raise a 503 or 500 before anything is applied, at ``error_5xx_rate``."""
        rate = self.config.error_5xx_rate
        if rate and self.rng.random() < rate:
            raise server_error(self.rng.choice((503, 500)))

    def drop_after_apply(self) -> bool:
        rate = self.config.drop_after_apply_rate
        return bool(rate) and self.rng.random() < rate
