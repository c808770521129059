"""Runners behind a Kubernetes headless Service: every address the name resolves to is
a runner pod. Re-resolved every `refresh_seconds`; affinity is kept because rendezvous
hashing only moves the functions of runners that come or go. Dedicated isolation is not
available here (nothing starts a runner per function)."""

from __future__ import annotations

import socket
import time
from typing import Self

from common.runners.discovery.base import Discovery
from common.settings import RunnerClientSettings


class DnsDiscovery(Discovery):
    refresh_seconds = 5.0

    def __init__(self, service: str) -> None:
        host, _, port = service.rpartition(":")
        self.host, self.port = host, int(port)
        self._addresses: list[str] = []
        self._resolved_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: RunnerClientSettings) -> Self:
        return cls(settings.runner_service)

    def addresses(self) -> list[str]:
        now = time.monotonic()
        if now - self._resolved_at > self.refresh_seconds:
            self._resolved_at = now
            try:
                infos = socket.getaddrinfo(
                    self.host, self.port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM
                )
            except OSError:
                infos = []  # keep serving the last known runners while DNS hiccups
            if infos:
                self._addresses = sorted({_address(info[4][0], self.port) for info in infos})
        return self._addresses


def _address(ip: str, port: int) -> str:
    """host:port, an IPv6 address in brackets (pods of an IPv6 or dual-stack cluster)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
