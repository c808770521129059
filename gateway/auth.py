"""Optional API keys (NIL_API_KEYS): a Bearer key on every endpoint but the probes.

Keys are kept only as SHA-256 digests and compared in constant time; each key has its
own rate limit, shared by every gateway process and replica (a bucket in Postgres), and
each client address a limit on failed authentications (per process): past it, every
request of that address that needs a key is a 429 until its bucket refills — a correct
key included, so guessing stays bounded — while other addresses are served as before
(gateway/ratelimit.py).
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, request

from common.errors import Unauthorized
from gateway.platform import Platform
from gateway.ratelimit import Limiter, SharedBuckets, TokenBuckets, client_key
from gateway.settings import Settings

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})
ROUTES_PREFIX = "/fn/"  # functions' HTTP routes: a key unless the function is public


def authorized() -> bool:
    """Whether this request presented a valid API key (always, with keys off). A route
    (/fn/...) is let through without one; whether it may run is decided with the
    function's `public` flag, in the statement that starts it (gateway/api/routes.py)."""
    return request.environ.get("nil.authorized", True)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def init_app(app: Flask, settings: Settings, platform: Platform) -> None:
    if not settings.api_keys:
        return
    digests = tuple(_digest(k) for k in settings.api_keys)
    per_key: Limiter | None = None
    if settings.rate_limit_per_second > 0:
        rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
        # gateways configured alike share a bucket; a differently configured one (mid-way
        # through a change of the limit, or a test's) keeps its own
        per_key = SharedBuckets(platform.db, f"api_key:{rate:g}/{burst}", rate, burst)
    failures = _limiter(
        settings.auth_failure_limit_per_second,
        settings.auth_failure_limit_burst,
        "too many failed authentications from this address",
    )

    @app.before_request
    def require_api_key() -> None:
        if request.path in OPEN_PATHS:
            return
        client = client_key(request.remote_addr)
        route = request.path.startswith(ROUTES_PREFIX)
        if failures is not None and not route:
            failures.check(client)
        presented = _presented_key(request.headers.get("Authorization", ""))
        matched = False
        for digest in digests:  # no early exit: the time does not depend on which key
            matched |= presented is not None and hmac.compare_digest(presented, digest)
        if route:
            request.environ["nil.authorized"] = matched
            request.environ["nil.failures"] = (failures, client)
            if not matched:
                return  # the route's view refuses it unless the function is public
        if not matched:
            if failures is not None:
                failures.take(client)
            raise Unauthorized("the API key is not valid" if presented else None)
        if per_key is not None:
            per_key.take(presented.hex())


def refuse_route() -> Unauthorized:
    """The 401 of a route that is not public, called without a valid key: it spends a
    failed-authentication token of the client's address like any other 401."""
    failures, client = request.environ.get("nil.failures", (None, None))
    if failures is not None:
        failures.check(client)
        failures.take(client)
    return Unauthorized()


def _presented_key(header: str) -> bytes | None:
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return _digest(key.strip())


def _limiter(rate: float, burst: int, what: str = "rate limit exceeded") -> Limiter | None:
    return TokenBuckets(rate, burst, what=what) if rate > 0 else None
