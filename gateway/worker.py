"""The gateway's gunicorn worker: gevent's, with read deadlines and JSON errors.

A connection costs a greenlet, not a thread, so clients that send slowly hold no worker
that anybody else needs (SPEC §3, issue 13). Each phase of reading a request has its
deadline, enforced on every read from the socket:

    idle     waiting for the next request on a kept-alive connection (`keepalive`
             seconds; a new connection must start its request within the header
             deadline instead). Closes silently.
    headers  from the first byte of a request to the end of its headers
             (NIL_REQUEST_HEADER_TIMEOUT_SECONDS). A JSON 408, then close.
    body     from the end of the headers to the end of the body
             (NIL_REQUEST_BODY_TIMEOUT_SECONDS). A JSON 408, then close.

The whole body is read here, before the app runs: the app (Flask) only ever sees a
complete body in memory, so it never blocks on the client, and a body over
NIL_MAX_BODY_BYTES — announced by Content-Length or found while reading a chunked one —
is a 413 here. Every error produced before the app (gunicorn's 400/414/431/501, these
408s and 413s) is SPEC §3's JSON shape.
"""

from __future__ import annotations

import io
import json
import logging
import math
import socket
import time
import uuid

import gevent
from gunicorn import http, util
from gunicorn.http import errors as http_errors
from gunicorn.workers.ggevent import GeventWorker

from gateway.errors import error_body
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


class ReadTimeout(Exception):
    """The client did not send its request in time."""

    def __init__(self, phase: str, seconds: float) -> None:
        self.phase, self.seconds = phase, seconds
        super().__init__(f"the request {phase} did not arrive within {seconds:g} s")


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body must be at most {limit} bytes")


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


class GatewayWorker(GeventWorker):
    """gunicorn's gevent worker serving HTTP/1.1 with read deadlines and JSON errors."""

    def init_process(self) -> None:
        settings = Settings.from_env()
        self.header_seconds = settings.request_header_timeout_seconds
        self.body_seconds = settings.request_body_timeout_seconds
        self.max_body = settings.max_body_bytes
        self.connections: set[DeadlineSocket] = set()
        super().init_process()

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
                self._read_body(req, client)
                reader.arm("idle", self.cfg.keepalive, then=("headers", self.header_seconds))
                self.handle_request(listener_name, req, client, addr)
        except (StopIteration, http_errors.NoMoreData):
            pass
        except ReadTimeout as exc:
            if exc.phase != "idle":
                self._refuse(req, client, addr, 408, "Request Timeout", str(exc))
        except BodyTooLarge as exc:
            self._refuse(req, client, addr, 413, "Payload Too Large", str(exc))
        except OSError:
            pass  # the client went away
        except Exception as exc:
            self.handle_error(req, client, addr, exc)
        finally:
            self.connections.discard(reader)
            util.close(client)

    def _read_body(self, req, client) -> None:
        """Read the whole body (under the body deadline) and hand it to the app in memory."""
        chunked = any(name == "TRANSFER-ENCODING" for name, _ in req.headers)
        length = next((int(v) for n, v in req.headers if n == "CONTENT-LENGTH"), 0)
        if length > self.max_body:
            raise BodyTooLarge(self.max_body)
        if not length and not chunked:
            return
        if req._expected_100_continue:  # the client waits for this before sending
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req._expected_100_continue = False
        data = req.body.read(self.max_body + 1)
        if len(data) > self.max_body:
            raise BodyTooLarge(self.max_body)
        if len(data) < length:
            raise http_errors.NoMoreData()  # the client closed mid-body
        if chunked:  # the app sees what it would have seen with a Content-Length
            req.headers = [(n, v) for n, v in req.headers if n != "TRANSFER-ENCODING"]
            req.headers.append(("CONTENT-LENGTH", str(len(data))))
        req.body = io.BytesIO(data)

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

    def _refuse(self, req, client, addr, status: int, reason: str, message: str) -> None:
        request_id = uuid.uuid4().hex
        if status < 500:
            peer = addr[0] if isinstance(addr, tuple) else ""
            logger.info(
                "request.refused",
                extra={"status": status, "error": message, "client": peer, "requestId": request_id},
            )
        body = json.dumps(error_body(status, reason, message, request_id)).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-Id: {request_id}\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            client.sendall(head.encode() + body)
        except OSError:
            pass
