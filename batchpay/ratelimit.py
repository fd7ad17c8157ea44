"""A sliding-window rate limiter matching Chargebee's rule: at most N calls in any 60 seconds.

A leaky bucket (e.g. aiolimiter) lets a full bucket burst and then keeps draining, which can put
more than N calls inside one sliding minute; this log of send times cannot.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SlidingWindowLimiter:
    """Wait until fewer than ``rate`` calls were started in the last ``window`` seconds."""

    def __init__(
        self,
        rate: int,
        window: float = 60.5,  # a little over a minute: the server stamps arrivals, not sends
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1 call per window")
        self.rate = rate
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: callers go out in the order they asked
            while True:
                wait = self._wait_time(self._clock())
                if wait <= 0:
                    self._sent.append(self._clock())
                    return
                await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (the server said Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait_time(self, now: float) -> float:
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        wait = self._paused_until - now
        if len(self._sent) >= self.rate:
            wait = max(wait, self._sent[0] + self.window - now)
        return wait
