"""A per-client token bucket, in process: each client may make ``burst`` requests at once, then ``rate`` a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_CLIENTS = 10_000  # past this, clients whose bucket has refilled are forgotten


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Takes a token for ``client``: 0 when the request may go ahead, else the seconds until it may."""
        with self._lock:
            now = self._clock()
            tokens, counted = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - counted) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._forget_idle(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        refilled = now - self.burst / self.rate  # a bucket last counted before this is full again
        for client in [c for c, (_, counted) in self._buckets.items() if counted <= refilled]:
            del self._buckets[client]
