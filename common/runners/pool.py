"""Taking a runner for a call: the runners a discovery finds, ordered for the function
by rendezvous hashing, the first free one leased; waiting a bounded time when all are
busy. Every service that dispatches to runners holds one `RunnerPool`, named `runners`."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator

from common.errors import NoRunnerAvailable
from common.runners.discovery.base import Discovery
from common.runners.runner import Runner


def affinity_order(function_key: str, addresses: list[str]) -> list[str]:
    """Rendezvous hashing: a stable preference order of runners for a function."""

    def score(address: str) -> bytes:
        return hashlib.blake2b(f"{function_key}|{address}".encode(), digest_size=8).digest()

    return sorted(addresses, key=score, reverse=True)


class RunnerPool:
    def __init__(self, discovery: Discovery, *, wait_seconds: float) -> None:
        self.discovery = discovery
        self.wait_seconds = wait_seconds

    @contextlib.contextmanager
    def lease(self, function_key: str, *, dedicated: bool = False) -> Iterator[Runner]:
        """The preferred free runner for this function, waiting up to `wait_seconds`
        (longer for a dedicated runner, which may have to be started first)."""
        found = self.discovery
        wait = max(self.wait_seconds, found.dedicated_wait_seconds if dedicated else 0)
        deadline = time.monotonic() + wait
        pause = 0.0005
        while True:
            candidates = found.dedicated_addresses(function_key) if dedicated else self.addresses()
            for address in affinity_order(function_key, candidates):
                release = found.try_lease(address)
                if release is not None:
                    try:
                        yield Runner(address)
                    finally:
                        release()
                    return
            if time.monotonic() >= deadline:
                raise NoRunnerAvailable()
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def addresses(self) -> list[str]:
        """The shared runners found now."""
        return self.discovery.addresses()

    def is_busy(self, address: str) -> bool:
        return self.discovery.is_busy(address)

    def replacements(self) -> int | None:
        """Runners replaced after dying or hanging, when whoever starts them says."""
        return self.discovery.replacements()

    def healthy_count(self) -> int:
        """Runners that answer their health check; a busy runner is working, so healthy."""
        return sum(1 for a in self.addresses() if self.is_busy(a) or Runner(a).healthy())

    def size(self) -> int:
        return len(self.addresses())

    def close(self) -> None:
        pass
