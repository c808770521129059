"""The small HTTP listeners beside each service's work — a worker's /health and /metrics,
a runner's metrics listener, the supervisor's runner metrics — on one handler.

They answer GET on their few paths (a query string is ignored, as Prometheus may send
scrape `params`); any other method is a 405 and anything unparsable a 400, in SPEC §3's
JSON error shape, never HTML. A client that hangs up mid-answer is not an error worth a
traceback in the log stream.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

Answer = tuple[int, bytes, str]  # status, body, content type
Routes = dict[str, Callable[[], Answer]]


def error_json(status: int, message: str) -> bytes:
    """SPEC §3's error body."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "timestamp": now,
            "status": status,
            "error": HTTPStatus(status).phrase,
            "message": message,
        }
    ).encode()


class SideServer(ThreadingHTTPServer):
    """A threaded HTTP server on an address, or on a socket made elsewhere (a unix one)."""

    daemon_threads = True

    def __init__(self, where: tuple[str, int] | socket.socket, handler) -> None:
        if isinstance(where, socket.socket):
            self.address_family = where.family
            super().__init__(("", 0), handler, bind_and_activate=False)
            self.socket.close()
            self.socket = where
            self.server_address = where.getsockname()
        else:
            super().__init__(where, handler)

    def get_request(self):
        conn, address = self.socket.accept()
        return conn, address or ("unix", 0)

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exception(), ConnectionError | TimeoutError):
            return  # the client hung up or stalled: nothing to tell
        logger.exception("side_http.failed")


def serve(where: tuple[str, int] | socket.socket, routes: Routes, name: str) -> SideServer:
    """Serve `routes` (path → answer) on a daemon thread named `name`."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # seconds a client may take to send its request
        server_version, sys_version = "nil", ""

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            route = routes.get(path)
            if route is None:
                self._send(404, error_json(404, f"no {path} here"), "application/json")
            else:
                self._send(*route())

        def _not_allowed(self) -> None:
            message = f"{self.command} is not allowed here; only GET"
            self._send(405, error_json(405, message), "application/json", Allow="GET")

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _not_allowed

        def send_error(self, code: int, message: str | None = None, explain=None) -> None:
            # what the parser refuses (a bad request line, an unknown method): JSON too
            self.close_connection = True
            if self.request_version == "HTTP/0.9":  # unparsed: answer with a status line
                self.request_version = "HTTP/1.0"
            body = error_json(code, message or HTTPStatus(code).phrase)
            self._send(code, body, "application/json", Connection="close")

        def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for header, value in headers.items():
                self.send_header(header, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = SideServer(where, Handler)
    Thread(target=server.serve_forever, daemon=True, name=name).start()
    return server
