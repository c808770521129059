"""The runner's executor thread with idle work posted after an answer
(runner/calls.py): a call queued behind idle work runs right after it; idle work the
watchdog gives up on replaces the worker, and what was queued behind it is answered
"not run" (the dispatcher retries on the successor) instead of waiting for ever."""

from __future__ import annotations

import threading
import time

from runner.calls import NOT_RUN, ExecutorThread, Job


def _thread() -> ExecutorThread:
    return ExecutorThread(grace_seconds=0.05, stack_bytes=1 << 20, heartbeat=lambda: None)


def test_a_call_queued_behind_idle_work_runs_after_it():
    executor = _thread()
    order: list[str] = []
    executor.post(Job(lambda: order.append("idle"), time.monotonic() + 5, lambda: None))
    result = executor.submit(Job(lambda: order.append("call") or 42, time.monotonic() + 5, None))
    assert result == 42 and order == ["idle", "call"]


def test_stuck_idle_work_replaces_the_worker_and_abandons_what_waits():
    executor = _thread()
    release, replaced = threading.Event(), threading.Event()
    executor.post(Job(release.wait, time.monotonic() + 0.1, lambda: None, replaced.set))
    queued = executor.submit(Job(lambda: "ran", time.monotonic() + 5, lambda: "overran"))
    assert queued is NOT_RUN and replaced.is_set() and executor.stuck
    assert executor.submit(Job(lambda: "ran", time.monotonic() + 5, lambda: None)) is NOT_RUN
    release.set()
