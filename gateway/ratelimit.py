"""Rate limits: a token bucket per key.

Two limits use it (gateway/auth.py): each API key's requests, and each client
address's failed authentications. A bucket holds up to `burst` tokens and refills at
`rate` per second; an empty bucket answers 429 with Retry-After.

The per-key limit is `SharedBuckets`: one row per key in Postgres, refilled and spent in
one statement (db/ratelimits.py), so it holds across every gateway process and replica
(its cost, one statement per request: docs/design.md). The failed-authentication limit is
`TokenBuckets`, in each process: it is checked before a key is known, on traffic an
attacker controls, and a database write per bad request would be the attack.
`Limiter` is the whole interface the gateway uses.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import psycopg_pool

from common.db import translate_errors
from common.errors import NilError
from db import ratelimits


class RateLimited(NilError, status=429, error="Too Many Requests"):
    """Too many requests; slow down."""

    def __init__(self, wait_seconds: float, what: str = "rate limit exceeded") -> None:
        self.retry_after = max(1, math.ceil(wait_seconds))
        super().__init__(f"{what}; retry after {self.retry_after} s")


class Limiter(Protocol):
    def take(self, key: str) -> None:
        """Spend one token of `key`'s bucket, or raise RateLimited when it has none."""

    def check(self, key: str) -> None:
        """Raise RateLimited while `key`'s bucket is empty; spend nothing."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """In-process buckets; the `max_keys` least recently used are kept."""

    def __init__(
        self, rate: float, burst: int, *, what: str = "rate limit exceeded", max_keys: int = 10_000
    ) -> None:
        self.rate, self.burst, self.what, self.max_keys = rate, burst, what, max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens < 1:
                raise RateLimited((1 - bucket.tokens) / self.rate, self.what)
            bucket.tokens -= 1

    def check(self, key: str) -> None:
        with self._lock:
            if key not in self._buckets:
                return
            bucket = self._refilled(key)
            if bucket.tokens < 1:
                raise RateLimited((1 - bucket.tokens) / self.rate, self.what)

    def _refilled(self, key: str) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket


class SharedBuckets:
    """Buckets kept in Postgres, one per key, shared by every process and replica."""

    def __init__(
        self,
        db: psycopg_pool.ConnectionPool,
        name: str,
        rate: float,
        burst: int,
        *,
        what: str = "rate limit exceeded",
    ) -> None:
        self.db, self.name, self.rate, self.burst, self.what = db, name, rate, burst, what

    def take(self, key: str) -> None:
        with translate_errors(), self.db.connection() as conn:
            taken = ratelimits.take_token(conn, self.name, key, self.rate, self.burst)
        if not taken.taken:
            raise RateLimited((1 - taken.tokens) / self.rate, self.what)

    def check(self, key: str) -> None:
        with translate_errors(), self.db.connection() as conn:
            tokens = ratelimits.peek_tokens(conn, self.name, key, self.rate, self.burst)
        if tokens is not None and tokens < 1:
            raise RateLimited((1 - tokens) / self.rate, self.what)


def client_key(address: str | None) -> str:
    """The address a client's failures are counted under: an IPv6 client by its /64
    (one host usually holds the whole prefix), an IPv4 client by its address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
