"""The gateway master's keeper of the runner supervisor, on a stand-in process."""

from __future__ import annotations

import os
import signal
import sys
import time

from gateway import supervisor_keeper
from gateway.supervisor_keeper import SupervisorKeeper

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _next_process(keeper: SupervisorKeeper, old_pid: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = keeper.process
        if process is not None and process.pid != old_pid and process.poll() is None:
            return process.pid
        time.sleep(0.02)
    raise AssertionError("the supervisor was not started again")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_supervisor_is_started_again_with_a_growing_backoff_then_stopped_for_good(
    monkeypatch,
):
    monkeypatch.setattr(supervisor_keeper, "MIN_BACKOFF_SECONDS", 0.3)
    keeper = SupervisorKeeper(SLEEPER)
    keeper.start()
    try:
        first = keeper.process.pid
        os.kill(first, signal.SIGKILL)
        started = time.monotonic()
        second = _next_process(keeper, first)
        assert time.monotonic() - started < 1.0  # the first exit: again at once
        os.kill(second, signal.SIGKILL)  # dying young: after the back-off
        started = time.monotonic()
        third = _next_process(keeper, second)
        assert time.monotonic() - started >= 0.3
        assert keeper.restarts == 2
    finally:
        keeper.stop()
    assert keeper.process.poll() is not None and not _alive(third)
    time.sleep(0.5)
    assert keeper.process.pid == third and keeper.restarts == 2  # stopped: not started again


def test_stop_during_the_back_off_starts_nothing(monkeypatch):
    monkeypatch.setattr(supervisor_keeper, "MIN_BACKOFF_SECONDS", 5.0)
    keeper = SupervisorKeeper([sys.executable, "-c", "pass"])  # exits at once, every time
    keeper.start()
    deadline = time.monotonic() + 5
    while keeper.restarts < 1:  # the first restart is immediate, then it waits 5 s
        assert time.monotonic() < deadline
        time.sleep(0.02)
    keeper.process.wait()
    keeper.stop()
    time.sleep(0.3)
    assert keeper.restarts == 1 and keeper._thread is not None
    keeper._thread.join(2)
    assert not keeper._thread.is_alive()
