"""Every statement on the rate_buckets table: token buckets shared by every gateway
process and replica (gateway/ratelimit.py). A bucket is refilled for the time since it
was last touched and spent in the same statement, under the row's lock, so concurrent
requests on any replica see one bucket."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

_REFILLED = (
    "LEAST(%(burst)s, b.tokens + %(rate)s"
    " * GREATEST(0, EXTRACT(EPOCH FROM now() - b.updated_at)::float8))"
)
_TAKE = f"""
INSERT INTO rate_buckets AS b (name, key, tokens, taken, updated_at)
VALUES (%(name)s, %(key)s, %(burst)s - 1, true, now())
ON CONFLICT (name, key) DO UPDATE SET
    tokens = {_REFILLED} - CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,
    taken = {_REFILLED} >= 1,
    updated_at = GREATEST(b.updated_at, now())
RETURNING tokens, taken
"""
_CHECK = f"SELECT {_REFILLED} FROM rate_buckets b WHERE name = %(name)s AND key = %(key)s"


@dataclass(frozen=True)
class Taken:
    taken: bool  # a token was spent
    tokens: float  # what the bucket holds now


def take_token(conn: psycopg.Connection, name: str, key: str, rate: float, burst: int) -> Taken:
    """Refill `key`'s bucket of limit `name` and spend one token if it has one."""
    params = {"name": name, "key": key, "rate": rate, "burst": burst}
    tokens, taken = conn.execute(_TAKE, params, prepare=True).fetchone()
    return Taken(taken, tokens)


def peek_tokens(
    conn: psycopg.Connection, name: str, key: str, rate: float, burst: int
) -> float | None:
    """What `key`'s bucket would hold now (None: never touched); spends nothing."""
    params = {"name": name, "key": key, "rate": rate, "burst": burst}
    row = conn.execute(_CHECK, params, prepare=True).fetchone()
    return None if row is None else row[0]
