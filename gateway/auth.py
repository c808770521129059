"""Optional API keys (NIL_API_KEYS): a Bearer key on every endpoint but the probes.

Keys are kept only as SHA-256 digests and compared in constant time; each key has
its own rate limit (gateway/ratelimit.py).
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, request

from gateway.errors import Unauthorized
from gateway.ratelimit import TokenBuckets

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def init_app(app: Flask, api_keys: tuple[str, ...], rate: float = 0, burst: int = 1) -> None:
    if not api_keys:
        return
    digests = tuple(_digest(k) for k in api_keys)
    buckets = TokenBuckets(rate, burst) if rate > 0 else None

    @app.before_request
    def require_api_key() -> None:
        if request.path in OPEN_PATHS:
            return
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized()
        presented = _digest(key.strip())
        matched = False
        for digest in digests:  # no early exit: the time does not depend on which key
            matched |= hmac.compare_digest(presented, digest)
        if not matched:
            raise Unauthorized("the API key is not valid")
        if buckets is not None:
            buckets.take(presented)
