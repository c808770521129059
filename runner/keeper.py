"""The runner's keeper: a small parent process that binds the runner's sockets once and
keeps one worker process (runner/server.py) serving them.

A worker whose watchdog answered an overrunning call asks for a successor, which is
forked at once and accepts on the same sockets while the old one drains its
connections; a worker that ends otherwise — killed by the kernel, or silent for
`hang_seconds` (no heartbeat) — is forked again as soon as it is gone. The runner's
address keeps accepting throughout (connections
wait in the backlog for a few milliseconds), no orchestrator restarts anything and
nothing goes into a crash-loop back-off. The keeper imports everything the worker needs
before it forks, so a new worker serves in milliseconds, not the ~0.3 s of a fresh
interpreter; it starts no thread of its own (forking a threaded process is unsafe).

SIGTERM drains: the keeper removes a unix socket's path (new connections go elsewhere),
passes the signal on, waits up to `graceful_seconds` for the worker to finish its call
and exit, and exits itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import time

from runner import malloc, metrics, server
from runner.settings import Settings

logger = logging.getLogger(__name__)
REPLACE_ME = b"R"  # on the heartbeat pipe: a worker whose watchdog fired wants a successor


def bind(address: str) -> socket.socket:
    """A listening socket on `unix:/path` or `host:port`."""
    if address.startswith("unix:"):
        path = address[5:]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0)  # any local user of the socket's directory may connect
        try:
            sock.bind(path)
        finally:
            os.umask(umask)
    else:
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
    sock.listen(socket.SOMAXCONN)
    return sock


def socket_file(sock: socket.socket) -> tuple[str, int] | None:
    """A unix listener's path and the inode of the file its bind made."""
    if sock.family != socket.AF_UNIX:
        return None
    path = sock.getsockname()
    return path, os.stat(path).st_ino


def unlink_own(file: tuple[str, int] | None) -> None:
    """Remove a socket's path if it is still the file this process bound. A successor
    may have bound the same path since — a new supervisor's runner, while this one,
    orphaned, drained — and removing its file would hide it from every client."""
    if file is None:
        return
    path, inode = file
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == inode:
            os.unlink(path)


class Keeper:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.listener = bind(settings.bind)
        metrics_address = settings.metrics_address
        self.metrics_listener = bind(metrics_address) if metrics_address else None
        self.socket_files = {
            sock: socket_file(sock) for sock in (self.listener, self.metrics_listener) if sock
        }
        self.child: int | None = None
        self.replaced: set[int] = set()  # workers that asked for a successor, still draining
        self.draining = False
        self.drain_deadline = 0.0
        self.last_beat = 0.0
        self.killed_for_hang = False
        self.keeper_lost = False  # in a worker: the heartbeat pipe broke
        self.forked_at = 0.0
        self.respawn_at = 0.0  # a worker that dies young is forked again after a back-off
        self.backoff = 0.0
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK)
        self._beat_r, self._beat_w = os.pipe2(os.O_NONBLOCK)

    def run(self, terminated: list[int] | None = None) -> int:
        """Serve until drained. `terminated` holds the signals that came before the
        keeper had its handler (runner/__main__.py): it drains at once then."""
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
        if terminated:
            self._on_term(terminated[0], None)
        try:
            while True:
                if self.child is None:
                    if self.draining:
                        return 0
                    if time.monotonic() >= self.respawn_at:
                        self._fork()
                wait = (
                    0.5 if self.child is not None else max(0.0, self.respawn_at - time.monotonic())
                )
                ready, _, _ = select.select([self._wake_r, self._beat_r], [], [], min(wait, 0.5))
                beats = b"".join(_empty(fd) for fd in ready if fd == self._beat_r)
                _empty(self._wake_r)
                if beats:
                    self.last_beat = time.monotonic()
                if REPLACE_ME in beats and self.child is not None and not self.draining:
                    self._successor()
                self._reap()
                self._orphaned()
                self._check(time.monotonic())
        finally:
            self._close()

    def _on_term(self, signum: int, frame: object) -> None:
        if self.draining:
            return
        self.draining = True
        self.drain_deadline = time.monotonic() + self.settings.graceful_seconds + 1
        unlink_own(self.socket_files[self.listener])  # new connections go elsewhere
        for pid in (self.child, *self.replaced):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def _orphaned(self) -> None:
        """A local runner's supervisor is gone (killed, so it could not stop its runners;
        they are in sessions of their own): drain and exit rather than serve no one."""
        parent = self.settings.parent_pid
        if parent and not self.draining and os.getppid() != parent:
            logger.warning("runner.orphaned", extra={"supervisorPid": parent})
            self._on_term(signal.SIGTERM, None)

    def _check(self, now: float) -> None:
        if self.child is None:
            return
        if self.draining and now > self.drain_deadline:
            logger.warning("runner.drain_timeout", extra={"pid": self.child})
            self._kill()
        elif not self.draining and now - self.last_beat > self.settings.hang_seconds:
            logger.warning("runner.worker_hung", extra={"pid": self.child})
            self.killed_for_hang = True
            self._kill()

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, signal.SIGKILL)

    def _fork(self) -> None:
        self.last_beat = self.forked_at = time.monotonic()
        self.killed_for_hang = False
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in (self._wake_r, self._wake_w, self._beat_r):
                    os.close(fd)
                code = server.serve(
                    self.settings,
                    self.listener,
                    self.metrics_listener,
                    self._heartbeat,
                    self._replace_me,
                )
            except BaseException:
                logger.exception("runner.worker_failed")
            finally:
                logging.shutdown()
                os._exit(code)
        self.child = pid

    def _successor(self) -> None:
        """The worker's watchdog fired: fork its successor now; the old one drains."""
        assert self.child is not None
        self.replaced.add(self.child)
        metrics.WORKER_RESTARTS.labels("watchdog").inc()  # the successor inherits the count
        logger.warning("runner.worker_replaced", extra={"pid": self.child, "reason": "watchdog"})
        self.child = None
        self._fork()

    def _heartbeat(self) -> None:  # in the worker, every second
        self._tell_keeper(b".")

    def _replace_me(self) -> None:  # in the worker
        self._tell_keeper(REPLACE_ME)

    def _tell_keeper(self, what: bytes) -> None:
        """Write to the heartbeat pipe. A full pipe is a keeper behind on reading (it
        has beats enough); a broken one is a keeper gone — killed outright, it could not
        stop this worker, which would live on, orphaned, serving stale connections: it
        drains and exits as on SIGTERM (a new keeper serves the address meanwhile)."""
        try:
            os.write(self._beat_w, what)
        except BlockingIOError:
            pass
        except BrokenPipeError:
            if not self.keeper_lost:
                self.keeper_lost = True
                logger.warning("runner.keeper_lost", extra={"pid": os.getpid()})
                os.kill(os.getpid(), signal.SIGTERM)

    def _reap(self) -> None:
        """Collect every ended child (a worker, or an orphan of one: the keeper may be
        PID 1 in a container)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child:
                self.child = None
                self._ended(pid, os.waitstatus_to_exitcode(status))
            self.replaced.discard(pid)

    def _ended(self, pid: int, code: int) -> None:
        if self.draining:
            logger.info("runner.stopped", extra={"pid": pid, "exitCode": code})
            return
        if self.killed_for_hang:
            reason = "hung"
        elif code == server.EXIT_WATCHDOG:
            reason = "watchdog"
        elif code < 0:
            reason = "killed"
        else:
            reason = "crashed"
        metrics.WORKER_RESTARTS.labels(reason).inc()  # the next worker inherits the count
        now = time.monotonic()
        young = now - self.forked_at < 1.0  # it died starting: do not spin
        self.backoff = min(max(self.backoff * 2, 0.1), 5.0) if young else 0.0
        self.respawn_at = now + self.backoff
        logger.warning(
            "runner.worker_replaced",
            extra={"pid": pid, "reason": reason, "backoffSeconds": self.backoff},
        )

    def _close(self) -> None:
        for sock, file in self.socket_files.items():
            unlink_own(file)
            sock.close()


def _empty(fd: int) -> bytes:
    read = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 4096):
            read += chunk
    return read


def main(terminated: list[int] | None = None) -> int:
    from common.logging import configure_logging

    settings = Settings.from_env()
    configure_logging("runner", settings.log_level)
    malloc.return_large_blocks()  # before the fork: the worker inherits it
    keeper = Keeper(settings)
    logger.info("runner.started", extra={"bind": settings.bind, "pid": os.getpid()})
    return keeper.run(terminated)
