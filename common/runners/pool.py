"""Dispatching a call to a runner: the runners a discovery finds, tried in the function's
rendezvous order (so a function keeps the runner that has its module compiled); a runner
that answers "busy" or "draining", or cannot be reached before the request is sent whole,
passes the call to the next one at once (and is tried last for a couple of seconds, so a
draining runner can go quiet and exit). The runners' own admission is the truth across
every thread, process and replica that dispatches to them — nothing is leased here.

When every runner is busy the call waits in a bounded first-in-first-out line of this
process (a newcomer never overtakes it): the call at its head is woken when a call of
this process ends (a runner it used is free), and tries again every few milliseconds for
runners freed by other processes or replicas. A call waits as long as it may run (its
timeoutMs, at least a second) and never past the configured longest wait; past that, or
with the line full, it is a 503 with Retry-After.

Every service that dispatches to runners holds one `RunnerPool`, named `runners`."""

from __future__ import annotations

import collections
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from common.contracts import ExecuteReply, ExecuteRequest, RunnerHealth
from common.errors import NoRunnerAvailable
from common.runners.discovery.base import Discovery
from common.runners.runner import Refusal, Runner
from common.runners.transport import Connections

T = TypeVar("T")
SET_ASIDE_SECONDS = 2.0  # a runner that answered "draining" or was unreachable: tried last


def affinity_order(function_key: str, addresses: list[str]) -> list[str]:
    """Rendezvous hashing: a stable preference order of runners for a function."""

    def score(address: str) -> bytes:
        return hashlib.blake2b(f"{function_key}|{address}".encode(), digest_size=8).digest()

    return sorted(addresses, key=score, reverse=True)


@dataclass(frozen=True)
class PoolStatus:
    """The runners as their own health answers describe them."""

    size: int  # runners found
    healthy: int  # runners that answered (busy ones included: they are working)
    busy: int
    draining: int

    @property
    def idle(self) -> int:
        return self.healthy - self.busy - self.draining


class RunnerPool:
    def __init__(
        self,
        discovery: Discovery,
        *,
        wait_seconds: float,
        queue_max: int = 256,
        connections: Connections | None = None,
    ) -> None:
        self.discovery = discovery
        self.wait_seconds = wait_seconds
        self.queue_max = queue_max
        self.connections = connections or Connections()
        self._line: collections.deque[threading.Event] = collections.deque()
        self._line_lock = threading.Lock()
        self._status: tuple[float, PoolStatus] | None = None
        self._status_lock = threading.Lock()
        self._set_aside: dict[str, float] = {}  # address → until when it is tried last

    def run(
        self,
        function_key: str,
        request: ExecuteRequest,
        *,
        language: str,
        load_module: Callable[[], bytes],
        dedicated: bool = False,
        waited: Callable[[float], None] | None = None,
    ) -> ExecuteReply:
        """Run the call on the first runner of the function's order that admits it.
        `waited` learns how long the call waited for a runner that took it.

        Every call waits for a free runner up to the longest wait, whatever its own
        timeout: on a loaded host a function with a 50 ms timeout may wait a second or two
        behind others, and a 503 for that would record a failed execution and cost the
        client a retry (the test under load at concurrency 32 saw one in 5,000)."""
        budget = self.wait_seconds
        if dedicated:
            budget = max(budget, self.discovery.dedicated_wait_seconds)
        try:
            return self._dispatch(
                function_key,
                lambda runner: runner.execute(request, language=language, load_module=load_module),
                budget=budget,
                dedicated=dedicated,
                waited=waited,
            )
        finally:
            self._wake_head()  # whatever happened, a runner this process used is free

    def preload(
        self, function_key: str, sha256: str, language: str, wasm: bytes, timeout: float
    ) -> None:
        """Have the first runner of the function's order that is free compile an artifact."""
        self._dispatch(
            function_key,
            lambda runner: runner.load(sha256, language, wasm, timeout),
            budget=self.wait_seconds,
            dedicated=False,
        )

    def _dispatch(
        self,
        function_key: str,
        attempt: Callable[[Runner], T | Refusal],
        *,
        budget: float,
        dedicated: bool,
        waited: Callable[[float], None] | None = None,
    ) -> T:
        started = time.monotonic()
        deadline = started + budget
        ticket = self._join() if self._line else None  # others wait: no overtaking
        pause = 0.001
        try:
            while True:
                if ticket is None or self._line[0] is ticket:
                    for address in self._ordered(function_key, dedicated):
                        tried = time.monotonic()
                        result = attempt(Runner(address, self.connections))
                        if not isinstance(result, Refusal):
                            if waited is not None:
                                waited(tried - started)
                            return result
                        if result in (Refusal.DRAINING, Refusal.UNREACHABLE):
                            self._set_aside[address] = time.monotonic() + SET_ASIDE_SECONDS
                    pause = min(pause * 2, 0.005)
                now = time.monotonic()
                if now >= deadline:
                    raise NoRunnerAvailable()
                if ticket is None:
                    ticket = self._join()
                head = self._line[0] is ticket
                ticket.wait(min(pause, deadline - now) if head else deadline - now)
                ticket.clear()
        finally:
            if ticket is not None:
                self._leave(ticket)

    def _ordered(self, function_key: str, dedicated: bool) -> list[str]:
        """The function's rendezvous order, runners that lately drained or could not be
        reached moved last: a draining runner is not asked by every call until it goes
        (it could never become quiet enough to exit), yet is tried if nothing else is."""
        order = affinity_order(function_key, self._candidates(function_key, dedicated))
        if not self._set_aside:
            return order
        now = time.monotonic()
        for address, until in list(self._set_aside.items()):
            if until <= now:
                self._set_aside.pop(address, None)
        return sorted(order, key=lambda a: a in self._set_aside)

    def _join(self) -> threading.Event:
        ticket = threading.Event()
        with self._line_lock:
            if len(self._line) >= self.queue_max:
                raise NoRunnerAvailable("too many calls are waiting for a runner")
            self._line.append(ticket)
        return ticket

    def _leave(self, ticket: threading.Event) -> None:
        with self._line_lock:
            self._line.remove(ticket)
            if self._line:
                self._line[0].set()  # the next in line tries now

    def _wake_head(self) -> None:
        with self._line_lock:
            if self._line:
                self._line[0].set()

    def _candidates(self, function_key: str, dedicated: bool) -> list[str]:
        if dedicated:
            return self.discovery.dedicated_addresses(function_key)
        return self.discovery.addresses()

    # ------------------------------------------------------------------ observing

    def addresses(self) -> list[str]:
        """The shared runners found now."""
        return self.discovery.addresses()

    def health(self) -> dict[str, RunnerHealth | None]:
        """Every shared runner's health answer (None: it did not answer)."""
        return {a: Runner(a, self.connections).health(timeout=1.0) for a in self.addresses()}

    def status(self, max_age: float = 1.0) -> PoolStatus:
        """Counts from the runners' health answers, at most `max_age` seconds old; one
        caller refreshes them while the others use the last ones."""
        cached = self._status
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        if cached is not None and not self._status_lock.acquire(blocking=False):
            return cached[1]
        if cached is None:
            self._status_lock.acquire()
        try:
            answers = [h for h in self.health().values() if h is not None]
            status = PoolStatus(
                size=len(self.addresses()),
                healthy=len(answers),
                busy=sum(1 for h in answers if h.busy and h.status == "UP"),
                draining=sum(1 for h in answers if h.status == "DRAINING"),
            )
            self._status = (time.monotonic(), status)
            return status
        finally:
            self._status_lock.release()

    def replacements(self) -> int | None:
        """Runners replaced after dying or hanging, when whoever starts them says."""
        return self.discovery.replacements()

    def size(self) -> int:
        return len(self.addresses())

    def close(self) -> None:
        self.connections.close()
