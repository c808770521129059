"""The gateway's gunicorn worker: connections on greenlets, the app on threads.

A connection costs a greenlet, not a thread: gevent reads each request — headers and the
whole body — and only a complete request is handed to one of NIL_GATEWAY_THREADS native
threads that run the app (Flask, psycopg, the runner client) exactly as gunicorn's gthread
worker did, without monkey-patching. So clients that send slowly hold no thread anybody
else needs (issue 13), while the app's hot path keeps psycopg's C-level waits and real
locks. Each phase of reading a request has its deadline, enforced on every read:

    idle     waiting for the next request on a kept-alive connection (`keepalive`
             seconds; a new connection must start its request within the header
             deadline instead). Closes silently.
    headers  from the first byte of a request to the end of its headers
             (NIL_REQUEST_HEADER_TIMEOUT_SECONDS). A JSON 408, then close.
    body     from the end of the headers to the end of the body
             (NIL_REQUEST_BODY_TIMEOUT_SECONDS). A JSON 408, then close.

A body over NIL_MAX_BODY_BYTES — announced by Content-Length or by the chunk-size lines
of a chunked one — is a 413 here; the bodies a worker holds at once are bounded (BodyBudget,
a 503 past it). Every error produced before the app (gunicorn's 400/414/431/501, these
408s, 413s and 503s) is SPEC §3's JSON shape.

Writing a response has its deadline too: each send must be taken by the client within
NIL_RESPONSE_WRITE_TIMEOUT_SECONDS, else the connection is reset (SO_LINGER 0, so the
kernel does not keep the unsent bytes either), and the responses a worker holds for
clients that read slower than it writes are bounded (ResponseBudget,
NIL_SLOW_RESPONSE_BYTES): a slow reader past it is reset at once. A client that keeps
taking a byte now and then is not cut off: the deadline is per send, not per response.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import math
import socket
import struct
import sys
import termios
import time
import uuid
from datetime import timedelta

import gevent
import gevent.event
import gevent.socket
from gevent.threadpool import ThreadPool
from gunicorn import http, util
from gunicorn.http import errors as http_errors
from gunicorn.http import wsgi
from gunicorn.http.body import Body, ChunkedReader
from gunicorn.workers.ggevent import GeventWorker

from gateway.errors import error_body
from gateway.request_ids import request_id_from
from gateway.settings import Settings

logger = logging.getLogger(__name__)

# Statuses of the requests gunicorn's parser refuses; any other ParseException is a 400.
_PARSE_STATUSES: tuple[tuple[type[Exception], int, str], ...] = (
    (http_errors.LimitRequestLine, 414, "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden"),
    (http_errors.ConfigurationProblem, 500, "Internal Server Error"),
    (http_errors.ParseException, 400, "Bad Request"),
)


BODIES_HELD = 8  # maximum-size request bodies one worker holds at once (BodyBudget)
# A response at least this large is watched until the client took it from the kernel's
# send queue (DeadlineWriter.drain): the kernel takes up to 4 MiB per socket at once
UNSENT_WATCHED_BYTES = 256 << 10
SWITCH_INTERVAL_SECONDS = 0.001  # sys.setswitchinterval in a gateway worker


class ReadTimeout(Exception):
    """The client did not send its request in time."""

    def __init__(self, phase: str, seconds: float) -> None:
        self.phase, self.seconds = phase, seconds
        super().__init__(f"the request {phase} did not arrive within {seconds:g} s")


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body must be at most {limit} bytes")


class GatewayBusy(Exception):
    """The worker holds as many request bodies as it may."""


class BodyBudget:
    """The bytes of request bodies one worker holds at once, from the first byte received
    until the request ends: slow clients hold what they sent, not what they announced.
    Greenlets of one worker run one at a time, so no lock is needed."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise GatewayBusy("the gateway is receiving too many request bodies; retry shortly")
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


class BoundedChunkedReader(ChunkedReader):
    """gunicorn's chunked-body reader, refusing a chunk-size line that takes the body over
    `limit` when the line arrives: a client announcing FFFFFFFFFFFFFFFFFFFF (or any chunk
    too large) gets its 413 at once, as with a Content-Length over the limit, instead of
    being read until the body deadline."""

    def __init__(self, req, unreader, limit: int) -> None:
        super().__init__(req, unreader)
        self.limit, self.announced = limit, 0

    def parse_chunk_size(self, unreader, data=None):
        size, rest = super().parse_chunk_size(unreader, data)
        self.announced += size
        if self.announced > self.limit:
            raise BodyTooLarge(self.limit)
        return size, rest


class SlowReader(Exception):
    """The client does not take its response fast enough: its connection is reset."""


class ResponseBudget:
    """The bytes of responses one worker holds for clients that read slower than it
    writes: a response is counted from the first send its client makes wait until it
    ends. Fast readers are never counted; a slow reader the budget cannot take is reset
    at once, so the memory stuck behind slow readers stays bounded."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self, size: int) -> None:
        if self.used + size > self.limit:
            raise SlowReader(f"the worker already holds {self.used} bytes for slow readers")
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


class DeadlineWriter:
    """The client socket as gunicorn's Response writes to it (`sendall`): every send must
    be taken by the client within `seconds` — a client that accepts no byte for that
    long is a SlowReader — and a response that makes its client wait is counted in the
    worker's ResponseBudget while it is written. Anything else is the socket's."""

    def __init__(self, sock: socket.socket, seconds: float, budget: ResponseBudget) -> None:
        self.sock, self.seconds, self.budget = sock, seconds, budget
        self.held = self.counted = 0

    def __getattr__(self, name: str):
        return getattr(self.sock, name)

    def hold(self, size: int) -> None:
        """The response about to be written holds `size` bytes in memory."""
        self.held = size

    def release(self) -> None:
        self.budget.give(self.counted)
        self.held = self.counted = 0

    def drain(self, size: int) -> None:
        """Wait, under the same deadline and budget as a send, until the client took a
        response of `size` bytes out of the socket's send queue. The kernel queues up to
        4 MiB per socket whatever the client reads: a response that fits is sent at
        once, so without this wait a client that reads nothing would hold those bytes of
        kernel memory per connection, past the deadline and outside the budget."""
        if size < UNSENT_WATCHED_BYTES:
            return
        queued = _unsent(self.sock)
        if queued < UNSENT_WATCHED_BYTES:
            return
        taken = queued
        self.budget.take(taken)
        try:
            last, progressed, pause = queued, time.monotonic(), 0.001
            while queued >= UNSENT_WATCHED_BYTES:
                gevent.sleep(pause)
                pause = min(pause * 2, 0.1)  # a fast reader is seen within a millisecond
                queued, now = _unsent(self.sock), time.monotonic()
                if queued < last:
                    last, progressed = queued, now
                elif now - progressed > self.seconds:
                    raise SlowReader(
                        f"the client took no byte of its response for {self.seconds:g} s"
                    )
        finally:
            self.budget.give(taken)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self.sock.settimeout(0.0)
            try:
                sent = self.sock.send(view)
            except BlockingIOError:  # the client's window is full: it reads slower
                if not self.counted and self.held:
                    self.budget.take(self.held)
                    self.counted = self.held
                self.sock.settimeout(self.seconds)
                try:
                    sent = self.sock.send(view)
                except TimeoutError:
                    raise SlowReader(
                        f"the client took no byte of its response for {self.seconds:g} s"
                    ) from None
            view = view[sent:]


def _unsent(sock) -> int:
    """The bytes in a TCP socket's send queue the client has not acknowledged."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]


class DeadlineSocket:
    """The client socket as gunicorn's parser reads it: every `recv` bounded by the
    current phase's deadline. An idle phase turns into `then` at its first byte."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.phase, self.seconds, self.deadline = "idle", math.inf, math.inf
        self.then: tuple[str, float] | None = None
        self.greenlet = gevent.getcurrent()  # the connection's, closed at shutdown if idle

    def arm(self, phase: str, seconds: float, then: tuple[str, float] | None = None) -> None:
        self.phase, self.seconds, self.then = phase, seconds, then
        self.deadline = time.monotonic() + seconds

    def recv(self, size: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout(self.phase, self.seconds)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(size)
        except TimeoutError:
            raise ReadTimeout(self.phase, self.seconds) from None
        if self.then is not None and data:
            self.arm(*self.then)
        return data


def _call_app(app, environ: dict, resp) -> list[bytes]:
    """On an app thread: the app's whole response body (start_response does no IO)."""
    result = app(environ, resp.start_response)
    try:
        return list(result)
    finally:
        if hasattr(result, "close"):
            result.close()


class WireBuffer:
    """What gunicorn's Response writes (`sendall`), kept as the bytes for the wire: an app
    thread formats the whole response (status line, headers, chunk framing) with
    gunicorn's own code, then sends what the client's socket takes at once."""

    def __init__(self, sock) -> None:
        self.sock, self.pieces = sock, []

    def __getattr__(self, name: str):
        return getattr(self.sock, name)

    def sendall(self, data: bytes) -> None:
        self.pieces.append(bytes(data))


def _serve(app, environ: dict, resp, parked: list, alive) -> tuple[bytes, int] | None:
    """On an app thread: call the app and, unless it parked the request (a long-poll),
    format the response and send as much of it as the client's socket takes without
    waiting (a send that cannot block touches neither the hub nor the deadlines).
    Returns what is left to send, which the connection's greenlet writes under the
    write deadline, and the response's whole size, which the ResponseBudget counts if
    the client makes it wait (as when the greenlet wrote all of it: what the kernel
    took is still held for that client); None when the request was parked.

    Sending here saves the hand-off back to the hub thread before the client has its
    answer: the greenlet resumes after the client was served."""
    chunks = _call_app(app, environ, resp)
    if parked:
        return None
    if not alive():  # shutting down: this response is the connection's last
        resp.force_close()
    wire = WireBuffer(resp.sock)
    resp.sock = wire
    for chunk in chunks:
        resp.write(chunk)
    resp.close()
    data = b"".join(wire.pieces)
    raw = wire.sock.sock  # the DeadlineWriter's socket
    try:
        sent = raw._sock.send(data)  # gevent's own socket: never blocks, nor needs the hub
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:
        sent = 0  # the greenlet's send raises it again, where errors are handled
    return data[sent:], len(data)


def _park(watch, execution_id, deadline: float) -> None:
    """Wait on this connection's greenlet until the execution ends (the watch's listener
    thread wakes the hub through a thread-safe async watcher) or the deadline passes:
    a long-poll holds no app thread and no database connection while it waits."""
    woken = gevent.event.Event()
    watcher = gevent.get_hub().loop.async_()
    watcher.start(woken.set)
    try:
        if watch.register(execution_id, watcher.send):
            try:
                woken.wait(max(0.0, deadline - time.monotonic()))
            finally:
                watch.unregister(execution_id, watcher.send)
    finally:
        watcher.close()


class GatewayWorker(GeventWorker):
    """gunicorn's gevent worker, unpatched, serving HTTP/1.1 with read deadlines and JSON
    errors, and calling the app on a pool of native threads."""

    def init_process(self) -> None:
        settings = Settings.from_env()
        self.header_seconds = settings.request_header_timeout_seconds
        self.body_seconds = settings.request_body_timeout_seconds
        self.write_seconds = settings.response_write_timeout_seconds
        self.responses = ResponseBudget(settings.slow_response_bytes)
        self.max_body = settings.max_body_bytes
        # as much as the gthread worker's eight threads could hold, each with a full body
        self.budget = BodyBudget(BODIES_HELD * settings.max_body_bytes)
        self.connections: set[DeadlineSocket] = set()
        self.app_threads = ThreadPool(settings.threads)
        # The app threads and the hub take turns on the GIL: with CPython's default 5 ms
        # switch interval, a hub woken to hand a request over waits up to 5 ms behind an
        # app thread running Python (measured: hand-off p99 233 ms at 5 ms, 32 ms at 1 ms,
        # with two threads busy; docs/performance.md).
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        super().init_process()

    def patch(self) -> None:
        """No monkey-patching: the app runs on native threads as under gthread (C-level
        waits in psycopg, real locks), only the connections are greenlets."""
        self.sockets = [
            gevent.socket.socket(s.FAMILY, socket.SOCK_STREAM, fileno=s.sock.detach())
            for s in self.sockets
        ]

    def handle_request(self, listener_name, req, sock: DeadlineWriter, addr) -> bool:
        """gunicorn's, with the app called on one of the app threads: the request is
        complete in memory by now, so a thread is held only while the app works. The
        response is written under the write deadline (DeadlineWriter)."""
        if req.path == "/health" and req.method in ("GET", "HEAD"):
            self._health(req, sock)
            return True
        started = time.monotonic()
        environ: dict = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            resp, environ = wsgi.create(req, sock, addr, listener_name, self.cfg)
            environ["wsgi.multithread"] = True
            self.nr += 1
            if not self.alive or not self.cfg.keepalive:
                resp.force_close()
            parked: list = []
            environ["nil.park"] = lambda *args: parked.append(args)
            alive = lambda: self.alive  # noqa: E731
            served = self.app_threads.spawn(_serve, self.wsgi, environ, resp, parked, alive).get()
            while parked:  # a long-poll (GET /executions/{id}?wait=): wait here, ask again
                watch, execution_id, deadline = parked.pop()
                _park(watch, execution_id, deadline)
                resp, environ = wsgi.create(req, sock, addr, listener_name, self.cfg)
                environ["wsgi.multithread"] = True
                environ["nil.deadline"] = deadline
                environ["nil.park"] = lambda *args: parked.append(args)
                if not self.alive or not self.cfg.keepalive:
                    resp.force_close()
                served = self.app_threads.spawn(
                    _serve, self.wsgi, environ, resp, parked, alive
                ).get()
            assert served is not None
            rest, size = served
            if rest:  # what the client's socket did not take at once: under the deadline
                sock.hold(size)
                try:
                    sock.sendall(rest)
                finally:
                    del rest, served
                    sock.release()
            sock.drain(size)  # and what the kernel took, until the client took it
            if resp.should_close():
                raise StopIteration()
        except (StopIteration, OSError, SlowReader):
            raise
        except Exception:
            if resp is not None and resp.headers_sent:
                raise StopIteration() from None  # cannot answer again on this connection
            raise
        finally:
            if resp is not None:
                self.log.access(resp, req, environ, timedelta(seconds=time.monotonic() - started))
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")
        return True

    def _health(self, req, sock: DeadlineWriter) -> None:
        """Liveness, answered here on the connection's greenlet: never queued behind the
        app threads running calls of up to the longest timeout, so a gateway busy with
        long calls is not restarted by its liveness probe. Same body as the app's."""
        given = next((v for k, v in req.headers if k.upper() == "X-REQUEST-ID"), "")
        close = req.should_close() or not self.alive
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(HEALTH_BODY)}\r\nX-Request-Id: {request_id_from(given)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        )
        sock.sendall(head.encode() + (b"" if req.method == "HEAD" else HEALTH_BODY))
        if close:
            raise StopIteration()

    def handle_exit(self, sig, frame) -> None:
        """SIGTERM: stop accepting, finish the requests in flight, and close the
        connections that wait idle for another request now rather than at the end of
        the graceful timeout."""
        super().handle_exit(sig, frame)
        gevent.spawn(self._close_idle)

    def _close_idle(self) -> None:
        gevent.killall([c.greenlet for c in list(self.connections) if c.phase == "idle"])

    def handle(self, listener, client, addr) -> None:
        client.setblocking(1)
        reader = DeadlineSocket(client)
        writer = DeadlineWriter(client, self.write_seconds, self.responses)
        self.connections.add(reader)
        parser = http.get_parser(self.cfg, reader, addr)
        listener_name = listener.getsockname()
        req = None
        try:
            # a new connection must start its request within the header deadline
            reader.arm("idle", self.header_seconds, then=("headers", self.header_seconds))
            while True:
                req = None
                req = next(parser)
                reader.arm("body", self.body_seconds)
                held = self._read_body(req, client)
                # not idle while the app runs: a shutdown (_close_idle) waits for the call
                # and its response instead of closing the connection under it
                reader.arm("app", math.inf)
                try:
                    self.handle_request(listener_name, req, writer, addr)
                finally:
                    self.budget.give(held)
                reader.arm("idle", self.cfg.keepalive, then=("headers", self.header_seconds))
        except (StopIteration, http_errors.NoMoreData):
            pass
        except GatewayBusy as exc:
            self._refuse(req, client, addr, 503, "Service Unavailable", str(exc), retry_after=1)
        except ReadTimeout as exc:
            if exc.phase != "idle":
                self._refuse(req, client, addr, 408, "Request Timeout", str(exc))
        except BodyTooLarge as exc:
            self._refuse(req, client, addr, 413, "Payload Too Large", str(exc))
        except SlowReader as exc:
            peer = addr[0] if isinstance(addr, tuple) else ""
            logger.info("response.abandoned", extra={"error": str(exc), "client": peer})
            # a reset, not a close: the kernel drops what is still queued for the client
            # instead of keeping it (and the connection) until the client reads it
            with contextlib.suppress(OSError):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # the client went away
        except Exception as exc:
            self.handle_error(req, client, addr, exc)
        finally:
            self.connections.discard(reader)
            util.close(client)

    def _read_body(self, req, client) -> int:
        """Read the whole body (under the body deadline) and hand it to the app in memory;
        returns the bytes it holds of the budget, to give back when the request ends."""
        chunked = any(name == "TRANSFER-ENCODING" for name, _ in req.headers)
        length = next((int(v) for n, v in req.headers if n == "CONTENT-LENGTH"), 0)
        if length > self.max_body:
            raise BodyTooLarge(self.max_body)
        if not length and not chunked:
            return 0
        if chunked and isinstance(req.body.reader, ChunkedReader):
            req.body = Body(BoundedChunkedReader(req, req.unreader, self.max_body))
        if req._expected_100_continue:  # the client waits for this before sending
            client.settimeout(self.write_seconds)
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req._expected_100_continue = False
        pieces: list[bytes] = []
        held = 0
        try:
            while piece := req.body.read(min(self.max_body + 1 - held, 1 << 16)):
                self.budget.take(len(piece))
                held += len(piece)
                pieces.append(piece)
                if held > self.max_body:
                    raise BodyTooLarge(self.max_body)
            if held < length:
                raise http_errors.NoMoreData()  # the client closed mid-body
        except BaseException:
            self.budget.give(held)
            raise
        if chunked:  # the app sees what it would have seen with a Content-Length
            req.headers = [(n, v) for n, v in req.headers if n != "TRANSFER-ENCODING"]
            req.headers.append(("CONTENT-LENGTH", str(held)))
        req.body = io.BytesIO(b"".join(pieces))
        return held

    def handle_error(self, req, client, addr, exc) -> None:
        """What gunicorn refused (or an error outside the app), as SPEC §3's JSON."""
        refused = next(((s, r) for kind, s, r in _PARSE_STATUSES if isinstance(exc, kind)), None)
        if refused is None:
            logger.exception("request.crashed", exc_info=exc)
            self._refuse(
                req, client, addr, 500, "Internal Server Error", "Unexpected platform failure."
            )
            return
        status, reason = refused
        self._refuse(req, client, addr, status, reason, f"{reason.lower()}: {str(exc)[:200]}")

    def _refuse(
        self, req, client, addr, status: int, reason: str, message: str, retry_after: int = 0
    ) -> None:
        request_id = uuid.uuid4().hex
        peer = addr[0] if isinstance(addr, tuple) else ""
        logger.log(
            logging.INFO if status < 500 else logging.WARNING,
            "request.refused",
            extra={"status": status, "error": message, "client": peer, "requestId": request_id},
        )
        body = json.dumps(error_body(status, reason, message, request_id)).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-Id: {request_id}\r\n"
            + (f"Retry-After: {retry_after}\r\n" if retry_after else "")
            + "Connection: close\r\n\r\n"
        )
        try:
            client.settimeout(self.write_seconds)
            client.sendall(head.encode() + body)
            _linger(client)
        except OSError:
            pass


HEALTH_BODY = b'{"status":"UP"}\n'
LINGER_SECONDS = 2.0  # at most this long, in all, reading what a refused client still sends
LINGER_BYTES = 32 << 20


def _linger(client) -> None:
    """A lingering close (Apache's, nginx's): after a refusal sent mid-request, stop writing
    and discard what the client is still sending, for a bounded time, before closing.
    Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
    refusal in the client's receive buffer before it reads it (a 413 seen as ECONNRESET)."""
    client.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + LINGER_SECONDS
    discarded = 0
    while discarded < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
        client.settimeout(left)
        try:
            piece = client.recv(1 << 16)
        except (OSError, TimeoutError):
            return
        if not piece:
            return
        discarded += len(piece)
