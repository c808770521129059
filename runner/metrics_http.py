"""The runner's metrics listener: a separate socket (a TCP port in Kubernetes, metrics.sock
beside runner.sock locally and in Docker) serving `GET /metrics` (Prometheus text) and
`GET /health` (the runner's health answer as JSON: 200 while it serves, busy or not; 503
once it drains). It can execute nothing, so opening
it to Prometheus opens no execution."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common.contracts import RunnerHealth
from common.metrics import exposition


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket, handler) -> None:
        self.address_family = sock.family
        super().__init__(("", 0), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()

    def get_request(self):
        conn, address = self.socket.accept()
        return conn, address or ("unix", 0)


def serve_metrics(
    sock: socket.socket, health: Callable[[], RunnerHealth], metrics_dir: str = ""
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # seconds a client may take to send its request
        error_content_type = "application/json"
        error_message_format = '{"status": %(code)d, "error": "%(message)s"}'

        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, content_type = exposition(metrics_dir=metrics_dir)
                self._send(200, body, content_type)
            elif self.path == "/health":  # 503 while draining: no longer ready
                answer = health()
                status = 200 if answer.status == "UP" else 503
                self._send(status, json.dumps(answer.to_json()).encode(), "application/json")
            else:
                self._send(404, b'{"status": 404, "error": "Not Found"}', "application/json")

        def do_POST(self) -> None:
            self._send(405, b'{"status": 405, "error": "Method Not Allowed"}', "application/json")

        do_PUT = do_DELETE = do_PATCH = do_POST

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    sock.settimeout(None)
    server = _Server(sock, Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
