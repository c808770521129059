"""Pool backends: runners found in the runner directory, or given as a static list."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import runner_dir as rd
from gateway.pool.base import RunnerPool


class DirectoryPool(RunnerPool):
    """Runners kept by runner/supervisor.py (processes or containers) in one directory.

    A runner is leased with an exclusive flock on its lock file, so every thread of
    every gateway worker process sees the same busy/free state.
    """

    def __init__(
        self,
        runner_dir: str,
        *,
        wait_seconds: float,
        dedicated_wait_seconds: float = 60.0,
        rescan_seconds: float = 0.25,
    ) -> None:
        super().__init__(wait_seconds)
        self.root = Path(runner_dir).resolve()
        self.dedicated_wait_seconds = dedicated_wait_seconds
        self.rescan_seconds = rescan_seconds
        self._cached: list[str] = []
        self._scanned_at = 0.0

    def addresses(self) -> list[str]:
        now = time.monotonic()
        if now - self._scanned_at > self.rescan_seconds or not self._cached:
            self._cached = [f"unix:{s}" for s in rd.shared_sockets(self.root)]
            self._scanned_at = now
        return self._cached

    def dedicated_addresses(self, function_key: str) -> list[str]:
        rd.request_dedicated(self.root, function_key)
        directory = self.root / rd.dedicated_name(function_key)
        return [rd.socket_address(directory)] if (directory / rd.SOCKET).exists() else []

    def try_lease(self, address: str) -> Callable[[], None] | None:
        return rd.try_lock(Path(address.removeprefix("unix:")).parent)

    def is_busy(self, address: str) -> bool:
        return rd.is_busy(Path(address.removeprefix("unix:")).parent)


class StaticPool(RunnerPool):
    """A fixed list of runner addresses (`host:port` or `unix:/path`), leased in-process.

    Dedicated isolation is not available here: those functions use the same runners.
    """

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


class DnsPool(StaticPool):
    """Runners behind a Kubernetes headless Service: every address the name resolves
    to is a runner pod. Re-resolved every `refresh_seconds`; affinity is kept because
    rendezvous hashing only moves the functions of runners that come or go."""

    def __init__(self, service: str, *, wait_seconds: float, refresh_seconds: float = 5.0):
        super().__init__((), wait_seconds=wait_seconds)
        host, _, port = service.rpartition(":")
        self.host, self.port = host, int(port)
        self.refresh_seconds = refresh_seconds
        self._resolved_at = float("-inf")

    def addresses(self) -> list[str]:
        now = time.monotonic()
        if now - self._resolved_at > self.refresh_seconds:
            self._resolved_at = now
            try:
                infos = socket.getaddrinfo(
                    self.host, self.port, family=socket.AF_INET, type=socket.SOCK_STREAM
                )
            except OSError:
                infos = []  # keep serving the last known runners while DNS hiccups
            if infos:
                self._addresses = sorted({f"{info[4][0]}:{self.port}" for info in infos})
        return self._addresses
