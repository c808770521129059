"""Pool backends: runners found in a directory of sockets, or given as a static list."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway.pool.base import RunnerPool


class DirectoryPool(RunnerPool):
    """Runners supervised by runner/supervisor.py: `runner-<i>.sock` in one directory.

    A runner is leased with an exclusive flock on `runner-<i>.lock`, so every thread
    of every gateway worker process sees the same busy/free state.
    """

    def __init__(self, runner_dir: str, *, wait_seconds: float, rescan_seconds: float = 1.0):
        super().__init__(wait_seconds)
        self.dir = Path(runner_dir)
        self.rescan_seconds = rescan_seconds
        self._cached: list[str] = []
        self._scanned_at = 0.0

    def addresses(self) -> list[str]:
        now = time.monotonic()
        if now - self._scanned_at > self.rescan_seconds or not self._cached:
            try:
                names = sorted(p for p in os.listdir(self.dir) if p.endswith(".sock"))
            except FileNotFoundError:
                names = []
            self._cached = [f"unix:{self.dir / n}" for n in names]
            self._scanned_at = now
        return self._cached

    def try_lease(self, address: str) -> Callable[[], None] | None:
        lock_path = address[len("unix:") :].removesuffix(".sock") + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None

        def release() -> None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        return release

    def busy_count(self) -> int:
        busy = 0
        for address in self.addresses():
            release = self.try_lease(address)
            if release is None:
                busy += 1
            else:
                release()
        return busy


class StaticPool(RunnerPool):
    """A fixed list of runner addresses (`host:port` or `unix:/path`), leased in-process."""

    def __init__(self, endpoints: tuple[str, ...], *, wait_seconds: float) -> None:
        super().__init__(wait_seconds)
        self._addresses = list(endpoints)
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def addresses(self) -> list[str]:
        return self._addresses

    def try_lease(self, address: str) -> Callable[[], None] | None:
        with self._lock:
            if address in self._busy:
                return None
            self._busy.add(address)

        def release() -> None:
            with self._lock:
                self._busy.discard(address)

        return release
