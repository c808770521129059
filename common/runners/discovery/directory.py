"""Runners kept by a supervisor (runner/supervisor.py: processes or containers) in one
directory, each serving a unix socket there (the layout is common/runner_dir.py).

Functions with `dedicated` isolation ask the supervisor for a runner of their own
through the same directory; when its cap is reached and every dedicated runner is busy,
the supervisor says so in its state file and the call is refused at once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Self

from common import runner_dir as rd
from common.errors import DedicatedRunnersExhausted
from common.runners.discovery.base import Discovery
from common.settings import RunnerClientSettings


class DirectoryDiscovery(Discovery):
    dedicated_wait_seconds = 60.0
    rescan_seconds = 0.25

    def __init__(self, runner_dir: str | Path) -> None:
        self.root = Path(runner_dir).resolve()
        self._cached: list[str] = []
        self._scanned_at = 0.0

    @classmethod
    def from_settings(cls, settings: RunnerClientSettings) -> Self:
        return cls(settings.runner_dir)

    def addresses(self) -> list[str]:
        now = time.monotonic()
        if now - self._scanned_at > self.rescan_seconds or not self._cached:
            self._cached = [f"unix:{s}" for s in rd.shared_sockets(self.root)]
            self._scanned_at = now
        return self._cached

    def dedicated_addresses(self, function_key: str) -> list[str]:
        rd.request_dedicated(self.root, function_key)
        directory = self.root / rd.dedicated_name(function_key)
        if (directory / rd.SOCKET).exists():
            return [rd.socket_address(directory)]
        if function_key in self._state().get("dedicatedRefused", ()):
            raise DedicatedRunnersExhausted()
        return []

    def replacements(self) -> int | None:
        """From the state file the supervisor writes."""
        return int(self._state().get("replacements", 0))

    def _state(self) -> dict:
        try:
            return json.loads((self.root / rd.STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}
