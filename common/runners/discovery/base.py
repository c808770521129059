"""What a discovery does: list the runners it finds, and take one for a call.

Leases are kept in this process by default; a discovery whose runners are shared by
several processes (the runner directory) leases them across processes instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self

from common.settings import RunnerClientSettings


class Discovery:
    dedicated_wait_seconds = 0.0  # how long a first call may wait for a dedicated runner

    def __init__(self) -> None:
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: RunnerClientSettings) -> Self:
        raise NotImplementedError

    def addresses(self) -> list[str]:
        """The shared runners, as `host:port` or `unix:/path`."""
        raise NotImplementedError

    def dedicated_addresses(self, function_key: str) -> list[str]:
        """Runners reserved for one function; without them, functions share the pool."""
        return self.addresses()

    def try_lease(self, address: str) -> Callable[[], None] | None:
        """Take the runner if it is free; returns its release function."""
        with self._lock:
            if address in self._busy:
                return None
            self._busy.add(address)

        def release() -> None:
            with self._lock:
                self._busy.discard(address)

        return release

    def is_busy(self, address: str) -> bool:
        return False

    def replacements(self) -> int | None:
        """How many runners were replaced, when the discovery can tell."""
        return None
