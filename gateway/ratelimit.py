"""Per-key rate limiting: a token bucket per API key, in each gateway process.

A bucket holds up to `burst` tokens and refills at `rate` per second; a request
takes one. An empty bucket answers 429 with Retry-After. Buckets live in the
process, so N gateway processes allow N x rate in total (documented).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from common.errors import NilError


class RateLimited(NilError, status=429, error="Too Many Requests"):
    """Too many requests for this API key; slow down."""

    def __init__(self, wait_seconds: float) -> None:
        self.retry_after = max(1, math.ceil(wait_seconds))
        super().__init__(f"rate limit exceeded; retry after {self.retry_after} s")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[bytes, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: bytes) -> None:
        """Take one token for `key`, or raise RateLimited."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._buckets.clear()  # keys are few; this bounds memory regardless
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1:
                raise RateLimited((1 - bucket.tokens) / self.rate)
            bucket.tokens -= 1
