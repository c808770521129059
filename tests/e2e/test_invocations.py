"""Asynchronous invocations on the whole platform (SPEC §10): the gateway enqueues, the
platform's invoker and a second invoker process run them on the gateway's runners."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import psycopg
import pytest
import requests

from tests.e2e.conftest import free_port
from tests.integration.helpers import function_body
from tools.platform import ROOT


@pytest.fixture
def second_invoker(platform):
    """A second invocation worker process next to the platform's."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoker"],
        cwd=ROOT,
        env={**platform.env(), "NIL_INVOKER_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    yield proc
    proc.terminate()
    proc.wait(timeout=30)


def _ready(api, name: str) -> str:
    fid = api.post("/functions", json=function_body(name=name)).json()["id"]
    assert api.wait_for_status(fid, {"READY", "FAILED"})["status"] == "READY"
    return fid


def test_a_thousand_invocations_over_five_functions_end_exactly_once(api, platform, second_invoker):
    fids = [_ready(api, f"async-{n}") for n in range(5)]
    total = 1000

    def post(n: int, path: str) -> requests.Response:
        return requests.post(
            f"{api.base}/functions/{fids[n % 5]}/{path}", json={"input": {"n": n}}, timeout=30
        )

    with ThreadPoolExecutor(8) as pool:
        started = time.perf_counter()
        sync = list(pool.map(lambda n: post(n, "execute"), range(200)))
        sync_rate = 200 / (time.perf_counter() - started)
        assert {r.status_code for r in sync} == {200}
        started = time.perf_counter()
        accepted = list(pool.map(lambda n: post(n, "invocations"), range(total)))
    assert {r.status_code for r in accepted} == {202}
    ids = [r.json()["id"] for r in accepted]
    with psycopg.connect(platform.database_url, autocommit=True) as conn:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            left = conn.execute(
                "SELECT count(*) FROM executions WHERE id = ANY(%s::uuid[])"
                " AND status IN ('PENDING', 'RUNNING')",
                (ids,),
            ).fetchone()[0]
            if left == 0:
                break
            time.sleep(0.1)
        async_seconds = time.perf_counter() - started
        rows = conn.execute(
            "SELECT status, attempts, output, input, extract(epoch FROM completed_at - created_at)"
            " FROM executions WHERE id = ANY(%s::uuid[])",
            (ids,),
        ).fetchall()
        queued = conn.execute("SELECT count(*) FROM pgmq.q_executions").fetchone()[0]
    assert len(rows) == total
    assert {(r[0], r[1]) for r in rows} == {("COMPLETED", 1)}
    assert all(r[2] == r[3] for r in rows)
    assert queued == 0
    latencies = sorted(float(r[4]) for r in rows)
    p50 = statistics.median(latencies)
    p99 = latencies[math.ceil(0.99 * len(latencies)) - 1]
    unloaded = _unloaded_latencies(api, fids[0], 50)
    figures = (
        f"async: {total / async_seconds:.0f} invocations/s completed (2 invokers)"
        f" vs sync {sync_rate:.0f}/s (8 clients); enqueue->completed of the 1,000 (a"
        f" backlog) p50 {p50 * 1000:.0f} ms p99 {p99 * 1000:.0f} ms; one at a time p50"
        f" {unloaded[0] * 1000:.0f} ms p99 {unloaded[1] * 1000:.0f} ms"
    )
    print(figures)
    assert async_seconds < 60


def _unloaded_latencies(api, fid: str, count: int) -> tuple[float, float]:
    """Enqueue -> completed (the row's timestamps) of `count` echo invocations, one at a
    time, each awaited with a long-poll."""
    latencies = []
    for n in range(count):
        eid = api.post(f"/functions/{fid}/invocations", json={"input": {"n": n}}).json()["id"]
        done = api.get(f"/executions/{eid}?wait=10").json()
        assert done["status"] == "COMPLETED", done
        created = datetime.fromisoformat(done["createdAt"].replace("Z", "+00:00"))
        completed = datetime.fromisoformat(done["completedAt"].replace("Z", "+00:00"))
        latencies.append((completed - created).total_seconds())
    latencies.sort()
    return statistics.median(latencies), latencies[math.ceil(0.99 * count) - 1]


def test_two_hundred_long_polls_hold_no_thread_or_connection(api, platform):
    """Long-polls wait on the gateway's connection greenlets: 200 of them at once end
    together at their deadline (as many app threads would take 200/threads rounds) and
    the API keeps answering meanwhile; the end of the execution wakes them."""
    src = (ROOT / "tests" / "fixtures" / "loop.ts").read_text()
    body = function_body(
        name="slow",
        language="assemblyscript",
        src=src,
        limits={"timeoutMs": 6000, "fuel": 10**11},
        retry={"maxAttempts": 1},
    )
    fid = api.post("/functions", json=body).json()["id"]
    assert api.wait_for_status(fid, {"READY", "FAILED"}, timeout=120)["status"] == "READY"
    eid = api.post(f"/functions/{fid}/invocations", json={}).json()["id"]

    def poll(seconds: float) -> tuple[float, str]:
        started = time.monotonic()
        r = requests.get(f"{api.base}/executions/{eid}?wait={seconds}", timeout=60)
        assert r.status_code == 200, r.text
        return time.monotonic() - started, r.json()["status"]

    with ThreadPoolExecutor(200) as pool:
        started = time.monotonic()
        waiting = [pool.submit(poll, 2) for _ in range(200)]
        time.sleep(0.5)
        probe = time.monotonic()
        assert api.get(f"/functions/{fid}").status_code == 200
        assert time.monotonic() - probe < 1.5  # the pool and the threads are free
        results = [f.result() for f in waiting]
        everyone = time.monotonic() - started
    assert {status for _, status in results} <= {"PENDING", "RUNNING"}
    assert all(elapsed >= 2 for elapsed, _ in results)
    assert everyone < 8, everyone
    elapsed, status = poll(30)
    assert status == "FAILED" and elapsed < 20
