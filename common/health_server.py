"""A tiny HTTP server for worker processes: /health and /metrics on a side thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common.metrics import exposition


def serve_health(
    host: str, port: int, is_healthy: Callable[[], bool], metrics_dir: str = ""
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                up = is_healthy()
                body = json.dumps({"status": "UP" if up else "DOWN"}).encode()
                self._send(200 if up else 503, body, "application/json")
            elif self.path == "/metrics":
                body, content_type = exposition(metrics_dir=metrics_dir)
                self._send(200, body, content_type)
            else:
                self._send(404, b'{"status": 404, "error": "Not Found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="health").start()
    return server
