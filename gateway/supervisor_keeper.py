"""The one runner supervisor of a gateway whose launcher starts runners (`local`,
`docker`), kept for the gunicorn master's lifetime.

Its runners exit when their supervisor is gone (`runner.orphaned`), so a supervisor that
died — killed, crashed, taken by the OOM killer — used to leave the gateway without a
runner until the whole gateway restarted, while `/ready` (the database alone) stayed
200. The keeper starts it again: at once the first time, then after a back-off that
doubles up to `MAX_BACKOFF_SECONDS` while it keeps dying young.

The watch is one thread of the master that only waits on the process: it holds nothing
a forked worker could need (the master forks gunicorn workers beside it)."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Sequence

logger = logging.getLogger(__name__)

MIN_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
STABLE_SECONDS = 30.0  # alive this long: the next exit starts again at once
STOP_SECONDS = 10.0


class SupervisorKeeper:
    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop do not cross
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv)
        self._thread = threading.Thread(target=self._keep, name="supervisor-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the supervisor (SIGTERM: it drains its runners) and keep it stopped."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _keep(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            started = time.monotonic()
            assert self.process is not None
            # The master's SIGCHLD handler may reap it first: then wait() says 0.
            code = self.process.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            if lived >= STABLE_SECONDS:
                backoff = 0.0
            logger.warning(
                "runner_supervisor.exited",
                extra={
                    "returnCode": code,
                    "aliveSeconds": round(lived, 1),
                    "restartInSeconds": backoff,
                },
            )
            if self._stopping.wait(backoff):
                return
            backoff = min(max(backoff * 2, MIN_BACKOFF_SECONDS), MAX_BACKOFF_SECONDS)
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = subprocess.Popen(self.argv)
                self.restarts += 1
            logger.info("runner_supervisor.restarted", extra={"pid": self.process.pid})
