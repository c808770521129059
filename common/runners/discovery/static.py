"""A fixed list of runner addresses (`host:port` or `unix:/path`), leased in-process.

Dedicated isolation is not available here: those functions use the same runners.
"""

from __future__ import annotations

from typing import Self

from common.runners.discovery.base import Discovery
from common.settings import RunnerClientSettings


class StaticDiscovery(Discovery):
    def __init__(self, endpoints: tuple[str, ...]) -> None:
        super().__init__()
        self._addresses = list(endpoints)

    @classmethod
    def from_settings(cls, settings: RunnerClientSettings) -> Self:
        return cls(settings.runner_endpoints)

    def addresses(self) -> list[str]:
        return self._addresses
