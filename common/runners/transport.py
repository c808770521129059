"""The client side of the runner transport: keep-alive connections to runners (a unix
socket or TCP), pooled per process, each carrying one request/reply exchange at a time
in the frames of common/runners/protocol.py. The runner's side is runner/server.py.

What a failure means is decided here, once:
- the connection could not be opened or greeted (a health exchange proves the runner's
  worker accepted it), or broke before the request was sent whole: `NotStarted` — the
  runner cannot have run it, another runner may;
- it broke (or timed out) after the request was sent: `RunnerFailed` — the call may
  have run, so it is a platform error and never retried elsewhere.

Safe under threads and under gevent's monkey-patched sockets and locks: the socket and
threading modules are looked up when used, a pooled connection is checked with a
zero-timeout peek (never a blocking call), and nothing blocks except on a socket.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from common.errors import RunnerFailed
from common.runners import protocol
from common.runners.protocol import Frame, FrameReader, Kind


class NotStarted(Exception):
    """The request never reached the runner whole: it did not run there."""


class Connection:
    def __init__(self, address: str, sock: socket.socket) -> None:
        self.address = address
        self.sock = sock
        self.reader = FrameReader(sock)
        self.idle_since = time.monotonic()
        self.reused = False  # taken from the pool (it may have gone stale since)
        self.draining = False  # its runner said, when greeted, that it admits nothing more

    @classmethod
    def open(cls, address: str, timeout: float) -> Connection:
        if address.startswith("unix:"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: Any = address[5:]
        else:
            host, _, port = address.rpartition(":")
            host = host.strip("[]")
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = (host, int(port))
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except OSError as exc:
            sock.close()
            raise NotStarted(f"cannot connect to {address}: {exc}") from exc
        conn = cls(address, sock)
        conn.greet(timeout)
        return conn

    def greet(self, timeout: float) -> None:
        """A health exchange before the first request: proof that the runner's worker
        accepted this connection. A connection left in a listen backlog by a worker that
        exits is reset unread; without this, a request sent on it would end in a reset
        indistinguishable from a runner dying mid-call."""
        try:
            frame = self.exchange(Kind.HEALTH, None, b"", timeout)
        except RunnerFailed as exc:
            raise NotStarted(f"{self.address} did not greet: {exc}") from exc
        if frame.kind != Kind.HEALTHY:  # a goodbye: it admits nothing more
            self.draining = True
        else:
            self.draining = frame.head.get("status") == "DRAINING"

    def exchange(
        self, kind: Kind, head: dict[str, Any] | None, body: bytes, timeout: float
    ) -> Frame:
        """Send one request and read its reply."""
        try:
            self.sock.settimeout(timeout)
            protocol.send(self.sock, kind, head, body)
        except OSError as exc:
            self.close()
            raise NotStarted(f"{self.address} closed the connection: {exc}") from exc
        try:
            frame = self.reader.read()
        except (OSError, protocol.ProtocolError, ValueError) as exc:
            self.close()
            what = exc or type(exc).__name__
            raise RunnerFailed(f"runner failed during the call: {what}") from exc
        if frame is None:
            self.close()
            raise RunnerFailed("runner failed during the call: it closed the connection")
        return frame

    def usable(self, max_idle: float) -> bool:
        """Still open and in step: the peer has not closed it, nothing unasked arrived."""
        if time.monotonic() - self.idle_since > max_idle or self.reader.pending:
            return False
        try:
            self.sock.settimeout(0.0)
            self.sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return True  # nothing to read: open
        except OSError:
            return False
        return False  # closed by the runner (b""), or bytes nobody asked for

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Connections:
    """This process's idle keep-alive connections, by runner address (most recent first)."""

    def __init__(
        self, *, max_idle: int = 8, idle_seconds: float = 30.0, connect_timeout: float = 1.0
    ) -> None:
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self.connect_timeout = connect_timeout
        self._idle: dict[str, list[Connection]] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> Connection:
        """A pooled connection to `address` that is still good, else a new one
        (raises NotStarted when the runner cannot be reached)."""
        while True:
            with self._lock:
                idle = self._idle.get(address)
                conn = idle.pop() if idle else None
            if conn is None:
                return Connection.open(address, self.connect_timeout)
            if conn.usable(self.idle_seconds):
                conn.reused = True
                return conn
            conn.close()

    def give(self, conn: Connection) -> None:
        """Keep `conn` for the next call to its runner."""
        conn.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(conn.address, [])
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    def forget(self, address: str) -> None:
        """Close the idle connections to a runner that is going away."""
        with self._lock:
            idle = self._idle.pop(address, [])
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def __del__(self) -> None:  # a pool dropped without close() leaves no socket open
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
