"""One runner, reached at its address through the process's keep-alive connections: run a
call on it (sending the module once when it lacks it), warm it with an artifact, ask
for its health. A runner that does not take the call says why (`Refusal`); choosing
another is the pool's job (common/runners/pool.py)."""

from __future__ import annotations

import atexit
from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from common.contracts import ExecuteReply, ExecuteRequest, RunnerHealth
from common.errors import NoRunnerAvailable, RunnerFailed
from common.runners.protocol import Frame, Kind
from common.runners.transport import Connection, Connections, NotStarted

MODULE_UPLOAD_SECONDS = 120.0  # a Python component takes seconds to compile
REPLY_SLACK_SECONDS = 5.0  # past the call's timeout: its watchdog answers at +0.2 s


class Refusal(Enum):
    """The runner did not start the call: another runner may take it."""

    BUSY = "busy"  # running another call
    DRAINING = "draining"  # stopping: it finishes its call and admits none
    UNREACHABLE = "unreachable"  # refused or broke before the request was sent whole
    REPLACED = "replaced"  # this connection's worker was replaced: its successor serves


T = TypeVar("T")
_SHARED = Connections()  # for a Runner made without a pool's connections
atexit.register(_SHARED.close)


class Runner:
    def __init__(self, address: str, connections: Connections | None = None) -> None:
        self.address = address
        self.connections = connections or _SHARED

    def execute(
        self, request: ExecuteRequest, *, language: str, load_module: Callable[[], bytes]
    ) -> ExecuteReply | Refusal:
        """Run a call; if the runner lacks the module, send it once (the runner stays
        reserved for this connection meanwhile) and run the call."""
        return self._attempt(lambda conn: self._execute_on(conn, request, language, load_module))

    def run(
        self, request: ExecuteRequest, *, language: str, load_module: Callable[[], bytes]
    ) -> ExecuteReply:
        """Run a call on this runner only: a refusal is an error (tools and tests; the
        platform dispatches through the pool, which tries the next runner instead)."""
        reply = self.execute(request, language=language, load_module=load_module)
        if isinstance(reply, Refusal):
            raise NoRunnerAvailable(f"runner {self.address} is {reply.value}")
        return reply

    def load(self, sha256: str, language: str, wasm: bytes, timeout: float) -> Refusal | None:
        """Have the runner compile and cache an artifact before any call needs it."""
        head = {"sha256": sha256, "language": language, "hold": False}

        def load_on(conn: Connection) -> Refusal | bool:
            frame = conn.exchange(Kind.LOAD, head, wasm, timeout)
            refusal = self._refusal(conn, frame)
            if refusal is not None:
                return refusal
            if frame.kind != Kind.LOADED:
                raise _unexpected(frame)
            return True

        result = self._attempt(load_on)
        return result if isinstance(result, Refusal) else None

    def _attempt(self, work: Callable[[Connection], T | Refusal]) -> T | Refusal:
        """`work` on a connection to this runner, twice at most: again on a new
        connection when the first met a pooled connection whose worker was replaced
        (it broke before the request was sent whole, or the replaced worker said its
        successor serves the address) — never when the request may have run."""
        for attempt in (1, 2):
            try:
                conn = self.connections.take(self.address)
            except NotStarted:
                return Refusal.UNREACHABLE
            if conn.draining:  # it said so when greeted: nothing is sent
                conn.close()
                self.connections.forget(self.address)
                return Refusal.DRAINING
            try:
                result = work(conn)
            except NotStarted:
                if conn.reused and attempt == 1:
                    continue
                return Refusal.UNREACHABLE
            except BaseException:
                conn.close()  # mid-exchange: never reused (closing also ends a reservation)
                raise
            if result is Refusal.REPLACED:
                if attempt == 1:
                    continue
                return Refusal.DRAINING
            if not isinstance(result, Refusal):
                self.connections.give(conn)
            return result
        return Refusal.UNREACHABLE

    def _execute_on(
        self,
        conn: Connection,
        request: ExecuteRequest,
        language: str,
        load_module: Callable[[], bytes],
    ) -> ExecuteReply | Refusal:
        timeout = request.limits.timeout_ms / 1000 + REPLY_SLACK_SECONDS
        head, body = request.frame()
        frame = conn.exchange(Kind.EXECUTE, head, body, timeout)
        if frame.kind == Kind.NOT_CACHED:
            upload = {"sha256": request.sha256, "language": language, "hold": True}
            loaded = conn.exchange(Kind.LOAD, upload, load_module(), MODULE_UPLOAD_SECONDS)
            refusal = self._refusal(conn, loaded)  # the worker is going away: nothing ran
            if refusal is not None:
                return refusal
            if loaded.kind != Kind.LOADED:
                raise _unexpected(loaded)
            frame = conn.exchange(Kind.EXECUTE, head, body, timeout)
            if frame.kind == Kind.NOT_CACHED:
                raise RunnerFailed("runner did not keep the module it was sent")
        refusal = self._refusal(conn, frame)
        if refusal is not None:
            return refusal
        if frame.kind != Kind.RESULT:
            raise _unexpected(frame)
        return ExecuteReply.from_frame(frame.head, frame.body)

    def _refusal(self, conn: Connection, frame: Frame) -> Refusal | None:
        if frame.kind == Kind.BUSY:
            self.connections.give(conn)
            return Refusal.BUSY
        if frame.kind == Kind.DRAINING:
            conn.close()
            self.connections.forget(self.address)
            return Refusal.REPLACED if frame.head.get("successor") else Refusal.DRAINING
        return None

    def health(self, timeout: float = 1.0) -> RunnerHealth | None:
        """Its health answer (given mid-call too), or None when it does not answer."""
        try:
            conn = self.connections.take(self.address)
            frame = conn.exchange(Kind.HEALTH, None, b"", timeout)
        except (NotStarted, RunnerFailed):
            return None
        if frame.kind != Kind.HEALTHY:
            conn.close()
            return None
        self.connections.give(conn)
        return RunnerHealth.from_json(frame.head)

    def healthy(self) -> bool:
        return self.health() is not None


def _unexpected(frame: Frame) -> RunnerFailed:
    if frame.kind == Kind.REJECTED:
        return RunnerFailed(f"runner rejected the module: {frame.head.get('error')}")
    if frame.kind == Kind.ERROR:
        return RunnerFailed(f"runner failed during the call: {frame.head.get('error')}")
    return RunnerFailed(f"runner answered {frame.kind.name} unexpectedly")
