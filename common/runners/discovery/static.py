"""A fixed list of runner addresses (`host:port` or `unix:/path`), started elsewhere.

Dedicated isolation is not available here (nothing starts a runner per function):
the gateway refuses such functions at create time.
"""

from __future__ import annotations

from typing import Self

from common.runners.discovery.base import Discovery
from common.settings import RunnerClientSettings


class StaticDiscovery(Discovery):
    def __init__(self, endpoints: tuple[str, ...]) -> None:
        self._addresses = list(endpoints)

    @classmethod
    def from_settings(cls, settings: RunnerClientSettings) -> Self:
        return cls(settings.runner_endpoints)

    def addresses(self) -> list[str]:
        return self._addresses
