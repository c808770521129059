"""The runner's side of the transport: the worker process serving the framed protocol of
common/runners/protocol.py on the listening sockets its keeper (runner/keeper.py) holds.

The main thread accepts connections; each connection gets a thread that reads its frames.
A health request is answered at once, mid-call too. An execute or a load is admitted only
when the runner is free (runner/calls.py), else answered "busy" (or "draining" once a
SIGTERM came) without being read further than its frame. Admitted work runs on the one
executor thread. What a call means is the wire contract in common/contracts.py.

SIGTERM drains: every new execute or load is answered "draining" (the dispatcher goes to
another runner), the call in flight finishes, and once its connections have been quiet
for a moment the worker says goodbye on each (an unasked "draining") and exits when the
peers have closed them, or a second later — new connections are still accepted and
answered, so a dispatcher never loses a request it sent (a connection it opens is greeted
before its first request: common/runners/transport.py). A worker whose
watchdog fired drains the same way (briefly), while its successor already serves.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable

from common.contracts import ExecuteReply, ExecuteRequest, Outcome, RunnerHealth
from common.runners import protocol
from common.runners.protocol import Frame, FrameReader, Kind
from runner import metrics
from runner.calls import NOT_RUN, Admission, ExecutorThread, Failed, Job
from runner.executor import Executor, ModuleRejected
from runner.metrics_http import serve_metrics
from runner.settings import Settings

logger = logging.getLogger(__name__)
EXIT_DRAINED = 0
EXIT_WATCHDOG = 3  # the keeper replaces the worker and counts why
REPLACED_SECONDS = 2.0  # a replaced worker answers "draining" this long at most
GOODBYE_SECONDS = 1.0  # after its goodbye, a drained worker waits this long for peers to close
OVERSIZED_DISCARD_BYTES = 128 * 1024 * 1024  # past it, an oversized frame closes the connection


class Connection:
    def __init__(self, sock: socket.socket, max_body: int) -> None:
        self.sock = sock
        self.reader = FrameReader(sock, max_body)
        self.in_frame = False  # between a request's arrival and its answer
        self.last_active = time.monotonic()
        self._sending = threading.Lock()  # the goodbye comes from the accept loop's thread

    def send(self, kind: Kind, head: dict | None = None, body: bytes = b"") -> None:
        with self._sending:
            protocol.send(self.sock, kind, head, body)


class RunnerServer:
    def __init__(
        self,
        settings: Settings,
        listener: socket.socket,
        heartbeat: Callable[[], None] = lambda: None,
        replace_me: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.listener = listener
        self.replace_me = replace_me
        self.executor = Executor(settings)
        self.admission = Admission()
        self.jobs = ExecutorThread(
            grace_seconds=settings.watchdog_grace_ms / 1000,
            stack_bytes=max(16 << 20, 8 * settings.max_wasm_stack),
            heartbeat=heartbeat,
        )
        self.connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._drain_requested = threading.Event()
        self._exit_code = EXIT_DRAINED
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK)  # wakes the accept loop
        self._last_connection = time.monotonic()
        metrics.DRAINING.set(0)
        metrics.BUSY.set(0)

    # ------------------------------------------------------------------ process

    def serve(self) -> int:
        """Accept until drained; returns the exit code."""
        signal.signal(signal.SIGTERM, lambda *_: self._drain_requested.set())
        signal.signal(signal.SIGINT, lambda *_: self._drain_requested.set())
        self.listener.settimeout(0)
        deadline = goodbye = None
        while True:
            if self._drain_requested.is_set() and deadline is None:
                replaced = self._exit_code == EXIT_WATCHDOG
                grace = REPLACED_SECONDS if replaced else self.settings.graceful_seconds
                deadline = time.monotonic() + grace
                self.admission.draining = True
                metrics.DRAINING.set(1)
                logger.info("runner.draining", extra={"pid": os.getpid(), "replaced": replaced})
            if deadline is not None and (self._drained() or time.monotonic() > deadline):
                self.admission.closed = True
                if goodbye is None:
                    goodbye = time.monotonic() + GOODBYE_SECONDS
                    self._say_goodbye()
                if self._quiet() or time.monotonic() > goodbye:
                    logger.info("runner.drained", extra={"pid": os.getpid()})
                    return self._exit_code
            ready, _, _ = select.select([self.listener, self._wake_r], [], [], 0.1)
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            if self._exit_code == EXIT_WATCHDOG or self.listener not in ready:
                continue  # replaced: the successor accepts (checked right before accept)
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, TimeoutError):
                continue  # the other worker of a replacement took it
            except OSError as exc:  # the listener was closed under us: nothing more comes
                logger.info("runner.listener_closed", extra={"error": str(exc)})
                self._drain_requested.set()
                time.sleep(0.05)
                continue
            self._last_connection = time.monotonic()
            self._start(sock)

    def _start(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, self.settings.max_module_bytes)
        with self._lock:
            if len(self.connections) >= self.settings.max_connections:
                sock.close()
                return
            self.connections.add(conn)
        threading.Thread(target=self._serve_connection, args=(conn,), daemon=True).start()

    def _drained(self) -> bool:
        """No call holds the runner and every connection has been quiet for a moment."""
        if self.admission.busy:
            return False
        quiet = time.monotonic() - self.settings.linger_seconds
        with self._lock:
            conns = list(self.connections)
        return self._last_connection < quiet and all(
            not c.in_frame and c.last_active < quiet for c in conns
        )

    def _say_goodbye(self) -> None:
        """Tell every open connection, unasked, that this worker admits nothing more: a
        dispatcher that sends a request at this very moment reads "draining" as its
        answer (nothing ran: it tries another runner), and one holding the connection
        idle sees unasked bytes and drops it. The worker then exits once the peers have
        closed (or GOODBYE_SECONDS passed), answering "draining" meanwhile — it never
        closes a connection under a request it did not read."""
        with self._lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(Kind.DRAINING, {"successor": self._exit_code == EXIT_WATCHDOG})

    def _quiet(self) -> bool:
        with self._lock:
            return not self.connections

    # ------------------------------------------------------------------ one connection

    def _serve_connection(self, conn: Connection) -> None:
        try:
            while True:
                try:
                    frame = conn.reader.read()
                except protocol.FrameTooLarge as exc:
                    self._refuse_oversized(conn, exc)
                    continue
                if frame is None:
                    return
                if frame.kind == Kind.HEALTH:  # not activity: health checks never hold a drain
                    self._answer(conn, frame)
                    continue
                conn.in_frame = True
                conn.last_active = time.monotonic()
                try:
                    self._answer(conn, frame)
                finally:
                    conn.in_frame = False
                    conn.last_active = time.monotonic()
                    # not kept while the next frame is awaited: a LOAD's body is a
                    # whole module (a Python component: ~20 MB per idle connection)
                    frame = None
        except (OSError, protocol.ProtocolError, ValueError) as exc:
            logger.debug("runner.connection_dropped", extra={"error": str(exc)})
        finally:
            self.admission.release(conn)
            with self._lock:
                self.connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.sock.close()

    def _refuse_oversized(self, conn: Connection, frame: protocol.FrameTooLarge) -> None:
        """Read past a frame over the size limit (up to a bound) and say why it was refused."""
        if frame.size > OVERSIZED_DISCARD_BYTES:
            raise frame
        conn.reader.discard(frame.size)
        limit = self.settings.max_module_bytes
        if frame.kind == Kind.LOAD:
            error = {"error": f"the module is larger than {limit} bytes"}
            conn.send(Kind.REJECTED, error)
        else:
            conn.send(Kind.ERROR, {"error": f"request larger than {limit} bytes"})

    def _answer(self, conn: Connection, frame: Frame) -> None:
        if frame.kind == Kind.HEALTH:
            conn.send(Kind.HEALTHY, self.health().to_json())
        elif frame.kind in (Kind.EXECUTE, Kind.LOAD):
            refused = self.admission.admit(conn)
            if refused is not None:
                metrics.REFUSED.labels(refused).inc()
                if refused == "busy":
                    conn.send(Kind.BUSY)
                else:  # a replaced worker's successor serves the same address already
                    replaced = self._exit_code == EXIT_WATCHDOG
                    conn.send(Kind.DRAINING, {"successor": replaced})
                return
            metrics.BUSY.set(1)
            try:
                if frame.kind == Kind.EXECUTE:
                    self._execute(conn, frame)
                else:
                    self._load(conn, frame)
            finally:
                if not self.admission.busy:
                    metrics.BUSY.set(0)
        else:
            raise protocol.ProtocolError(f"{frame.kind.name} is not a request")

    def _execute(self, conn: Connection, frame: Frame) -> None:
        try:
            request = ExecuteRequest.from_frame(frame.head, frame.body)
        except (KeyError, TypeError, ValueError) as exc:
            self.admission.release(conn)
            conn.send(Kind.ERROR, {"error": f"malformed execute request: {exc}"})
            return
        started = time.monotonic()
        job = Job(
            lambda: self.executor.execute(request),
            started + request.limits.timeout_ms / 1000,
            lambda: _overran(request, started),
        )
        reply = self._run(job)
        if reply is NOT_RUN:
            self._not_run(conn)
            return
        if reply is None:  # not cached: the LOAD that follows on this connection is expected
            self.admission.hold(conn, self.settings.hold_seconds)
            conn.send(Kind.NOT_CACHED)
            return
        if isinstance(reply, Failed):
            self._finish(conn, job, Kind.ERROR, {"error": reply.message})
            return
        self.admission.ran()
        self._finish(conn, job, Kind.RESULT, *reply.frame())
        if not job.fatal and self.executor.has_idle_work():  # after the answer went out
            deadline = time.monotonic() + request.limits.timeout_ms / 1000
            idle = functools.partial(self.executor.idle, self.jobs.waiting)
            self.jobs.post(Job(idle, deadline, lambda: None, self._replaced))

    def _load(self, conn: Connection, frame: Frame) -> None:
        sha256, language = str(frame.head.get("sha256")), str(frame.head.get("language"))
        wasm = frame.body

        def load() -> str | None:
            if self.executor.has_module(sha256):
                return None
            try:
                self.executor.load_module(sha256, language, wasm)
            except ModuleRejected as exc:
                return str(exc)
            return None

        seconds = self.settings.load_timeout_seconds
        job = Job(load, time.monotonic() + seconds, lambda: f"loading took over {seconds} s")
        rejected = self._run(job)
        if rejected is NOT_RUN:
            self._not_run(conn)
        elif isinstance(rejected, Failed):
            self._finish(conn, job, Kind.ERROR, {"error": rejected.message})
        elif rejected is not None:
            self._finish(conn, job, Kind.REJECTED, {"error": rejected})
        elif frame.head.get("hold"):  # the EXECUTE that follows keeps the runner
            self.admission.hold(conn, self.settings.hold_seconds)
            conn.send(Kind.LOADED)
        else:
            self._finish(conn, job, Kind.LOADED)

    def _run(self, job: Job):
        self.admission.started()
        try:
            return self.jobs.submit(job)
        finally:
            self.admission.ended()

    def _finish(self, conn: Connection, job: Job, kind: Kind, head=None, body=b"") -> None:
        """Answer and free the runner. When the watchdog answered, the executor is stuck
        in a host call: the keeper starts a successor on the same sockets at once, and
        this worker admits nothing more, answers "draining" on its open connections
        until they are quiet (a request sent on one is never lost), then exits."""
        if job.fatal:
            self._replaced()
        self.admission.release(conn)
        conn.send(kind, head, body)

    def _not_run(self, conn: Connection) -> None:
        """The executor got stuck in earlier work (idle work the watchdog gave up on):
        nothing ran, and the successor serves this address — the dispatcher retries."""
        self.admission.release(conn)
        conn.send(Kind.DRAINING, {"successor": True})

    def _replaced(self) -> None:
        """The executor is stuck (its watchdog fired): admit nothing more, have the keeper
        fork a successor, and drain."""
        self.admission.closed = True
        self._exit_code = EXIT_WATCHDOG  # accept nothing more: the successor will
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"!")
        self.replace_me()
        self._drain_requested.set()

    def health(self) -> RunnerHealth:
        return RunnerHealth(
            status="DRAINING" if self.admission.draining else "UP",
            busy=self.admission.busy,
            pid=os.getpid(),
            modules=len(self.executor.cache),
            calls=self.admission.calls,
            max_concurrent=self.admission.max_in_flight,
            upgrading=self.executor.upgrades_pending,
        )


def _overran(request: ExecuteRequest, started: float) -> ExecuteReply:
    return ExecuteReply(
        Outcome.TIMEOUT,
        error=f"function exceeded its time limit of {request.limits.timeout_ms} ms",
        duration_ms=(time.monotonic() - started) * 1000,
    )


def serve(
    settings: Settings,
    listener: socket.socket,
    metrics_listener: socket.socket | None,
    heartbeat: Callable[[], None],
    replace_me: Callable[[], None],
) -> int:
    """The worker's life: serve until drained (or replaced after its watchdog fired)."""
    server = RunnerServer(settings, listener, heartbeat, replace_me)
    if metrics_listener is not None:
        serve_metrics(metrics_listener, server.health, settings.metrics_dir)
    logger.info("runner.serving", extra={"pid": os.getpid(), "bind": settings.bind})
    return server.serve()
