"""What a discovery does: list the runners it finds (and, where runners can be started
per function, the ones dedicated to a function). Which runner takes a call is not a
discovery's business: the runners' own admission decides (common/runners/pool.py)."""

from __future__ import annotations

from typing import Self

from common.errors import DedicatedIsolationUnavailable
from common.settings import RunnerClientSettings


class Discovery:
    dedicated_wait_seconds = 0.0  # how long a first call may wait for a dedicated runner

    @classmethod
    def from_settings(cls, settings: RunnerClientSettings) -> Self:
        raise NotImplementedError

    def addresses(self) -> list[str]:
        """The shared runners, as `host:port` or `unix:/path`."""
        raise NotImplementedError

    def dedicated_addresses(self, function_key: str) -> list[str]:
        """Runners reserved for one function. Only where something starts runners per
        function (common.settings.POOL_BACKENDS); never a silent fallback to the pool."""
        raise DedicatedIsolationUnavailable()

    def replacements(self) -> int | None:
        """How many runners were replaced, when the discovery can tell."""
        return None
