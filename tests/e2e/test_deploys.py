"""Deploys without downtime (SPEC §9), over HTTP against the whole platform: a stream
of executions (20/s for 10 s) across a deploy that compiles, one that fails, and a
rollback. Every execution must succeed and record the revision it ran."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from tests.e2e.test_seed_flow import ready_function
from tests.integration.helpers import source

RATE = 20  # executions per second
SECONDS = 10


def echo_v(n: int) -> str:
    """An AssemblyScript echo whose artifact differs per n (a branch no input takes)."""
    return (
        "export function handle(input: string): string {\n"
        f'  if (input.length == {1_000_000 + n}) return "v{n}";\n'
        "  return input;\n}\n"
    )


@dataclass(frozen=True)
class Call:
    sent: float
    answered: float
    status: int
    revision: int | None
    outcome: str | None

    @property
    def ms(self) -> float:
        return (self.answered - self.sent) * 1000


class Stream:
    """`RATE` executions per second for `SECONDS`, each recorded with when it was sent
    and answered (monotonic seconds) and the revision it ran."""

    def __init__(self, base: str, fid: str, query: str = "") -> None:
        self.url = f"{base}/functions/{fid}/execute{query}"
        self.local = threading.local()
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.thread = threading.Thread(target=self._schedule, daemon=True)

    def __enter__(self) -> Stream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()
        self.pool.shutdown(wait=True)

    def _schedule(self) -> None:
        start = time.monotonic()
        for i in range(RATE * SECONDS):
            delay = start + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.pool.submit(self._call, i)

    def _call(self, i: int) -> None:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        sent = time.monotonic()
        response = session.post(self.url, json={"input": {"i": i}}, timeout=30)
        answered = time.monotonic()
        body = response.json()
        call = Call(sent, answered, response.status_code, body.get("revision"), body.get("status"))
        with self.lock:
            self.calls.append(call)


def assert_all_ok(calls: list[Call]) -> None:
    assert len(calls) == RATE * SECONDS
    failed = [c for c in calls if c.status != 200 or c.outcome != "COMPLETED"]
    assert failed == [], failed[:5]


def test_a_deploy_that_compiles_drops_nothing(api):
    fid = ready_function(api, "deploy-ok", src=echo_v(0))
    with Stream(api.base, fid) as stream:
        time.sleep(2)
        put = api.put(
            f"/functions/{fid}",
            json={"name": "deploy-ok", "language": "assemblyscript", "source": echo_v(1)},
        )
        assert put.json()["revision"] == 2
    calls = stream.calls
    assert_all_ok(calls)
    assert {c.revision for c in calls} == {1, 2}
    flipped = min(c.answered for c in calls if c.revision == 2)
    late_ones = [c for c in calls if c.sent > flipped and c.revision == 1]
    assert late_ones == []  # live follows latest: once one ran 2, none sent later runs 1
    fn = api.get(f"/functions/{fid}").json()
    assert (fn["status"], fn["revision"], fn["liveRevision"]) == ("READY", 2, 2)


def test_a_deploy_that_fails_drops_nothing_and_keeps_live(api):
    fid = ready_function(api, "deploy-broken", src=echo_v(0))
    with Stream(api.base, fid) as stream:
        time.sleep(2)
        broken = {"name": "x", "language": "assemblyscript", "source": source("syntax_error.ts")}
        assert api.put(f"/functions/{fid}", json=broken).json()["revision"] == 2
    assert_all_ok(stream.calls)
    assert {c.revision for c in stream.calls} == {1}
    fn = api.get(f"/functions/{fid}").json()
    assert (fn["status"], fn["revision"], fn["liveRevision"]) == ("FAILED", 2, 1)
    assert "function.ts(3," in fn["compileError"]


def test_a_rollback_during_a_stream_is_instant_and_warm(api):
    fid = ready_function(api, "rollback", src=echo_v(0))
    assert api.put(
        f"/functions/{fid}",
        json={"name": "rollback", "language": "assemblyscript", "source": echo_v(1)},
    ).ok
    assert api.wait_for_status(fid, {"READY", "FAILED"})["liveRevision"] == 2
    with ThreadPoolExecutor(4) as pool:  # revision 1 ran recently on every runner
        list(pool.map(lambda _: api.post(f"/functions/{fid}/execute?revision=1"), range(16)))
    with Stream(api.base, fid) as stream:
        time.sleep(SECONDS / 2)
        asked = time.monotonic()
        rolled = api.post(f"/functions/{fid}/rollback")
        done = time.monotonic()
        assert rolled.status_code == 200 and rolled.json()["revision"] == 1
    calls = stream.calls
    assert_all_ok(calls)
    after = sorted((c for c in calls if c.sent > done), key=lambda c: c.sent)
    assert after and {c.revision for c in after} == {1}
    warm = statistics.median(c.ms for c in calls if c.answered < asked)
    first = after[0]
    print(
        f"\nrollback: {(done - asked) * 1000:.1f} ms to answer; first execution on revision 1"
        f" {first.ms:.1f} ms (warm median {warm:.1f} ms)"
    )
    assert first.ms <= 10 * warm, (first.ms, warm)  # not a cold compile of the module
