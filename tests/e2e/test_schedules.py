"""Cron schedules on the running platform (SPEC §11): three scheduler processes race
for every tick and exactly one execution starts per tick; after downtime only the most
recent missed tick fires. Time is advanced through the schedulers' test clock
(NIL_SCHEDULER_CLOCK_FILE) instead of waiting minutes; the race is the real one, in
the database. The platform's own scheduler keeps the real clock (ticks minutes away)."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import free_port
from tests.integration.helpers import source
from tools.platform import ROOT

TICK = timedelta(minutes=1)


class Schedulers:
    """`count` scheduler processes sharing one test clock."""

    def __init__(self, database_url: str, clock: Path, count: int = 3) -> None:
        self.database_url, self.clock, self.count = database_url, clock, count
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def set_clock(self, moment: datetime) -> float:
        tmp = self.clock.with_suffix(".tmp")
        tmp.write_text(moment.isoformat())
        tmp.replace(self.clock)  # atomic: a scheduler never reads half a timestamp
        return time.time()

    def start(self) -> None:
        self.ports = [free_port() for _ in range(self.count)]
        for port in self.ports:
            env = {
                **os.environ,
                "DATABASE_URL": self.database_url,
                "NIL_SCHEDULER_PORT": str(port),
                "NIL_SCHEDULER_POLL_SECONDS": "0.05",
                "NIL_SCHEDULER_CLOCK_FILE": str(self.clock),
            }
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "scheduler"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            _poll(lambda port=port: _healthy(port), 30, "scheduler health")

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=30)
        self.procs = []

    def metric(self, name: str) -> float:
        total = 0.0
        for port in self.ports:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            for line in text.splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    total += float(line.rsplit(" ", 1)[1])
        return total


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def _poll(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise TimeoutError(what)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


@pytest.fixture
def schedulers(platform, tmp_path):
    running = Schedulers(platform.database_url, tmp_path / "clock")
    yield running
    running.stop()


@pytest.fixture
def ready_echo(api):
    fid = api.post(
        "/functions", json={"name": "cron", "language": "wat", "source": source("echo.wat")}
    ).json()["id"]
    assert api.wait_for_status(fid, {"READY", "FAILED"})["status"] == "READY"
    yield fid
    api.delete(f"/functions/{fid}")


def scheduled_runs(api, fid: str) -> list[dict]:
    rows = api.get(f"/functions/{fid}/executions").json()
    return [r for r in rows if r["trigger"] == "schedule"]


def started_runs(api, fid: str, count: int) -> list[dict]:
    def check():
        rows = scheduled_runs(api, fid)
        return rows if len(rows) >= count and all(r["startedAt"] for r in rows) else None

    return _poll(check, 30, f"{count} scheduled executions")


def test_three_racing_schedulers_fire_each_tick_exactly_once(api, ready_echo, schedulers):
    fid = ready_echo
    created = api.post(
        f"/functions/{fid}/schedules", json={"cron": "* * * * *", "input": {"from": "cron"}}
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    first = _parse(schedule["nextRunAt"])
    assert first.second == 0 and first > datetime.now(first.tzinfo)
    schedulers.set_clock(first - timedelta(seconds=1))
    schedulers.start()
    lags = []
    for n in range(1, 7):  # six ticks; the first two are the "two ticks"
        due = schedulers.set_clock(first + (n - 1) * TICK + timedelta(milliseconds=100))
        runs = started_runs(api, fid, n)
        started = max(_parse(r["startedAt"]).timestamp() for r in runs)
        lags.append(started - due)
        if n == 2:
            time.sleep(0.5)  # ten looks of each scheduler: nothing more may fire
            assert len(scheduled_runs(api, fid)) == 2
    time.sleep(0.5)
    runs = scheduled_runs(api, fid)
    assert len(runs) == 6
    execution = api.get(f"/executions/{runs[0]['id']}").json()
    assert execution["input"] == {"from": "cron"}
    assert execution["status"] == "COMPLETED"
    [listed] = api.get(f"/functions/{fid}/schedules").json()
    assert _parse(listed["nextRunAt"]) == first + 6 * TICK
    assert schedulers.metric("nil_scheduler_fires_total") == 6
    print(
        f"\nschedule lag due -> execution started: p50 {statistics.median(lags) * 1000:.0f} ms,"
        f" max {max(lags) * 1000:.0f} ms over {len(lags)} ticks"
    )


def test_ticks_missed_while_down_fire_once_on_return(api, ready_echo, schedulers):
    fid = ready_echo
    schedule = api.post(f"/functions/{fid}/schedules", json={"cron": "* * * * *"}).json()
    first = _parse(schedule["nextRunAt"])
    schedulers.set_clock(first + timedelta(milliseconds=100))
    schedulers.start()
    started_runs(api, fid, 1)
    schedulers.stop()
    # down across three ticks (first + 1, + 2, + 3): only the last fires on return
    schedulers.set_clock(first + 3 * TICK + timedelta(seconds=20))
    schedulers.start()
    runs = started_runs(api, fid, 2)
    time.sleep(0.5)
    assert len(scheduled_runs(api, fid)) == 2 == len(runs)
    [listed] = api.get(f"/functions/{fid}/schedules").json()
    assert _parse(listed["nextRunAt"]) == first + 4 * TICK
    assert schedulers.metric("nil_scheduler_skipped_ticks_total") == 2


def test_schedules_are_validated_listed_deleted_and_go_with_their_function(api, ready_echo):
    fid = ready_echo
    base = f"/functions/{fid}/schedules"
    for body, field in (
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * *"}, "cron"),
        ({"cron": "* * * * * *"}, "cron"),
        ({}, "cron"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "* * * * *", "timezone": "../etc/passwd"}, "timezone"),
        ({"cron": "* * * * *", "input": [1]}, "input"),
    ):
        response = api.post(base, json=body)
        assert response.status_code == 400, body
        assert field in response.json()["message"], response.json()
    berlin = api.post(base, json={"cron": "30 2 * * *", "timezone": "Europe/Berlin"})
    assert berlin.status_code == 201
    assert berlin.json()["timezone"] == "Europe/Berlin"
    assert _parse(berlin.json()["nextRunAt"]).minute == 30
    assert [s["id"] for s in api.get(base).json()] == [berlin.json()["id"]]
    assert api.delete(f"{base}/{berlin.json()['id']}").status_code == 204
    assert api.delete(f"{base}/{berlin.json()['id']}").status_code == 404
    assert api.get(base).json() == []
    assert api.post(base, json={"cron": "0 * * * *"}).status_code == 201
    assert api.delete(f"/functions/{fid}").status_code == 204
    assert api.get(base).status_code == 404
    unknown = "/functions/00000000-0000-0000-0000-000000000000/schedules"
    assert api.post(unknown, json={"cron": "* * * * *"}).status_code == 404
