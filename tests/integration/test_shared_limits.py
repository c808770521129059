"""Limits that hold across gateway processes (issue 20): the per-key rate limit is one
bucket in Postgres whichever gateway process or replica serves the request; the
per-function concurrency limit (`limits.concurrency`) is validated here and enforced
across two gateways in tests/e2e/test_cluster.py."""

from __future__ import annotations

import time

import pytest
import requests

from common.db import open_pool
from db import ratelimits
from gateway.ratelimit import RateLimited, SharedBuckets, TokenBuckets
from tests.e2e.cluster import Cluster
from tests.integration.helpers import function_body

KEY = "k-shared-limit"


@pytest.fixture
def two_gateways(db_url, tmp_path):
    cluster = Cluster.of(
        db_url,
        tmp_path,
        extra_env={
            "NIL_API_KEYS": KEY,
            "NIL_RATE_LIMIT_PER_SECOND": "1",
            "NIL_RATE_LIMIT_BURST": "10",
        },
        gateway=2,
    )
    try:
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop_all()


def test_the_per_key_rate_limit_holds_across_two_gateway_processes(two_gateways):
    urls = [m.url for m in two_gateways.of_kind("gateway")]
    sessions = [requests.Session() for _ in urls]
    headers = {"Authorization": f"Bearer {KEY}"}
    started = time.monotonic()
    answers = []
    for i in range(40):  # 2 gateways x 2 workers: per-process buckets would allow 40
        response = sessions[i % 2].get(urls[i % 2] + "/functions", headers=headers, timeout=10)
        answers.append((i % 2, response))
    elapsed = time.monotonic() - started
    served = [which for which, r in answers if r.status_code == 200]
    limited = [r for _, r in answers if r.status_code == 429]
    assert len(served) + len(limited) == 40
    assert 10 <= len(served) <= 10 + int(elapsed) + 1, (len(served), elapsed)
    assert set(served) == {0, 1}  # both gateways spent from the one bucket
    assert limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["status"] == 429
    assert limited[0].json()["message"] == "rate limit exceeded; retry after 1 s"


def test_shared_buckets_refill_and_their_cost_per_request(db_url):
    db = open_pool(db_url, name="test-limits")
    try:
        buckets = SharedBuckets(db, "test", rate=1.0, burst=5)
        for _ in range(5):
            buckets.take("a")
        with pytest.raises(RateLimited):  # (unless five statements took over a second)
            buckets.take("a")
        refilling = SharedBuckets(db, "refill", rate=20.0, burst=1)
        refilling.take("r")
        deadline = time.monotonic() + 5
        while True:  # a token comes back within ~50 ms
            try:
                refilling.take("r")
                break
            except RateLimited:
                assert time.monotonic() < deadline, "the bucket never refilled"
        slow = SharedBuckets(db, "slow", rate=0.5, burst=1)
        slow.take("b")
        with pytest.raises(RateLimited) as limited:
            slow.take("b")
        with pytest.raises(RateLimited):
            slow.check("b")
        slow.check("never-seen")
        roomy = SharedBuckets(db, "cost", rate=1e9, burst=10**9)
        local = TokenBuckets(1e9, 10**9)
        n = 500
        started = time.perf_counter()
        for _ in range(n):
            roomy.take("c")
        shared_ms = (time.perf_counter() - started) * 1000 / n
        with db.connection() as conn:  # the statement alone, without the pool's check
            started = time.perf_counter()
            for _ in range(n):
                ratelimits.take_token(conn, "cost", "c", 1e9, 10**9)
            statement_ms = (time.perf_counter() - started) * 1000 / n
        started = time.perf_counter()
        for _ in range(n):
            local.take("c")
        local_ms = (time.perf_counter() - started) * 1000 / n
    finally:
        db.close()
    print(
        f"\nrate limit cost per request: shared {shared_ms:.3f} ms (the statement alone"
        f" {statement_ms:.3f} ms), in-process {local_ms:.4f} ms"
    )
    assert limited.value.retry_after == 2


def test_limits_concurrency_is_validated_shown_and_unlimited_by_default(client):
    created = client.post("/functions", json=function_body(limits={"concurrency": 2}))
    assert created.status_code == 201
    assert created.json["limits"]["concurrency"] == 2
    fid = created.json["id"]
    assert client.get(f"/functions/{fid}").json["limits"]["concurrency"] == 2
    plain = client.post("/functions", json=function_body(name="plain")).json
    assert "concurrency" not in plain["limits"]  # unlimited
    for bad in (0, -1, 1.5, "2", True, 10_001):
        response = client.post("/functions", json=function_body(limits={"concurrency": bad}))
        assert response.status_code == 400, bad
        assert response.json["message"] == ("limits.concurrency must be an integer from 1 to 10000")
    updated = client.put(f"/functions/{fid}", json=function_body(limits={"concurrency": None}))
    assert updated.status_code == 200
    assert "concurrency" not in updated.json["limits"]
    assert updated.json["revision"] == 1  # a function's setting: no new revision
