"""One call at a time: the runner's admission, its one executor thread, and the watchdog.

Admission is the truth across every dispatcher (gateway processes, replicas, the
consumer's warmer): a call is admitted only when no other call holds the runner, else it
is answered "busy" at once — nothing queues here. After "not cached" (or a load asked
to `hold`) the runner stays reserved for the same connection, so the module upload and
the call that follows cannot be overtaken.

Every wasmtime object lives on the executor thread (the Python bindings are not
thread-safe). The watchdog answers a job still running `grace` after its deadline with
the job's overrun answer (a timeout) and marks it fatal: its host call may block for
ever, so the worker is replaced after the answer is sent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class Job:
    """A piece of work for the executor thread, finished exactly once: by the executor
    with its result, or by the watchdog with `overrun()` (then `fatal`)."""

    def __init__(
        self,
        run: Callable[[], Any],
        deadline: float,
        overrun: Callable[[], Any],
        on_fatal: Callable[[], None] | None = None,
    ):
        self.run = run
        self.deadline = deadline  # time.monotonic()
        self.overrun = overrun
        self.on_fatal = on_fatal  # for a job nobody waits on (posted): what the watchdog calls
        self.result: Any = None
        self.fatal = False
        self._finished = False
        self._state = threading.Lock()
        self._done = threading.Lock()
        self._done.acquire()

    def finish(self, result: Any, *, fatal: bool = False) -> bool:
        with self._state:
            if self._finished:
                return False
            self._finished = True
            self.result, self.fatal = result, fatal
        self._done.release()
        return True

    def wait(self) -> Any:
        self._done.acquire()
        return self.result


class Failed:
    """What the executor raised: the call failed in the runner, not in the function."""

    def __init__(self, error: BaseException) -> None:
        self.message = f"{type(error).__name__}: {error}"


class NotRun:
    """The answer for a job queued behind one the watchdog gave up on (the executor is
    stuck in it): this job never ran, and the worker's successor serves instead."""


NOT_RUN = NotRun()


class ExecutorThread:
    """The one thread that runs jobs, and the watchdog thread that guards its deadline."""

    def __init__(
        self, *, grace_seconds: float, stack_bytes: int, heartbeat: Callable[[], None]
    ) -> None:
        self.grace = grace_seconds
        self.heartbeat = heartbeat
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._current: Job | None = None
        self.stuck = False  # the watchdog gave up on the running job: nothing more runs
        self._changed = threading.Condition()
        previous = threading.stack_size(stack_bytes)  # wasm runs here: room beyond its stack
        try:
            threading.Thread(target=self._run, name="executor", daemon=True).start()
        finally:
            threading.stack_size(previous)
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def submit(self, job: Job) -> Any:
        """Run `job` on the executor thread; returns its result (or its overrun answer, or
        NOT_RUN once the executor is stuck)."""
        if self.stuck:
            return NOT_RUN
        self._jobs.put(job)
        if self.stuck:  # it got stuck meanwhile: the queue may not have been emptied yet
            self._abandon_queued()
        return job.wait()

    def post(self, job: Job) -> None:
        """Queue `job` without waiting for it (the executor's idle work); a call submitted
        meanwhile runs right after it."""
        self._jobs.put(job)

    def waiting(self) -> bool:
        """Whether a job waits behind the running one (idle work leaves out what can wait)."""
        return not self._jobs.empty()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            with self._changed:
                self._current = job
                self._changed.notify()
            try:
                result = job.run()
            except BaseException as exc:  # a bug of the runner, not of the function
                logger.exception("runner.job_failed")
                result = Failed(exc)
            job.finish(result)
            with self._changed:
                self._current = None

    def _watch(self) -> None:
        beat_every = 1.0
        while True:
            with self._changed:
                job = self._current
                wait = beat_every if job is None else job.deadline + self.grace - time.monotonic()
                if wait > 0:
                    self._changed.wait(min(wait, beat_every))
                job = self._current
            self.heartbeat()
            if job is not None and time.monotonic() >= job.deadline + self.grace:
                if job.finish(job.overrun(), fatal=True):
                    logger.warning("runner.watchdog_fired", extra={"overrunMs": self.grace * 1000})
                    self.stuck = True
                    self._abandon_queued()
                    if job.on_fatal is not None:
                        job.on_fatal()

    def _abandon_queued(self) -> None:
        """Answer every queued job NOT_RUN: the executor thread will not come back."""
        while True:
            try:
                queued = self._jobs.get_nowait()
            except queue.Empty:
                return
            queued.finish(NOT_RUN)


class Admission:
    """Who holds the runner now: one connection (its call, or its reservation), or none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: object | None = None
        self._held_until = 0.0  # a reservation between frames; 0 while a job runs
        self.draining = False
        self.closed = False  # the worker is going away: admit nothing, not even a holder
        self.in_flight = 0  # jobs admitted and not answered
        self.max_in_flight = 0
        self.calls = 0

    def admit(self, holder: object) -> str | None:
        """None when `holder` may run a job now; else why not: "busy" or "draining"."""
        with self._lock:
            if self.closed:
                return "draining"
            if self._owner is holder:
                self._held_until = 0.0
                return None
            if self.draining:
                return "draining"
            if self._owner is not None and not self._lapsed():
                return "busy"
            self._owner, self._held_until = holder, 0.0
            return None

    def hold(self, holder: object, seconds: float) -> None:
        with self._lock:
            if self._owner is holder:
                self._held_until = time.monotonic() + seconds

    def release(self, holder: object) -> None:
        with self._lock:
            if self._owner is holder:
                self._owner, self._held_until = None, 0.0

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def ran(self) -> None:
        """A call ran to its outcome (loads, and calls that needed a module, do not count)."""
        with self._lock:
            self.calls += 1

    def ended(self) -> None:
        with self._lock:
            self.in_flight -= 1

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._owner is not None and not self._lapsed()

    def _lapsed(self) -> bool:
        return self._held_until != 0.0 and time.monotonic() > self._held_until
