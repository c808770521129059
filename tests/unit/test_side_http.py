"""The side listeners (worker /health and /metrics, runner metrics, supervisor) answer in
SPEC §3's JSON error shape whatever a client sends, ignore a query string, and execute
nothing but their GET routes."""

from __future__ import annotations

import json
import socket

import pytest

from common.health_server import serve_health

ERROR_KEYS = {"timestamp", "status", "error", "message"}


@pytest.fixture
def port():
    server = serve_health("127.0.0.1", 0, lambda: True)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_health_and_metrics_ignore_a_query_string(port):
    status, headers, body = exchange(port, b"GET /health?probe=1 HTTP/1.0\r\n\r\n")
    assert (status, json.loads(body)) == (200, {"status": "UP"})
    status, headers, body = exchange(port, b"GET /metrics?target=x HTTP/1.0\r\n\r\n")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert "python" not in headers.get("server", "").lower()


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GET /nothing HTTP/1.0\r\n\r\n", 404),
        (b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405),
        (b"DELETE /health HTTP/1.0\r\n\r\n", 405),
        (b"BREW /health HTTP/1.0\r\n\r\n", 501),
        (b"\x00\x01garbage\r\n\r\n", 400),
        (b"GET /health HTTP/9.9\r\n\r\n", 505),
    ],
)
def test_every_refusal_is_the_json_error_shape(port, raw, status):
    got, headers, body = exchange(port, raw)
    assert got == status
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert set(answer) == ERROR_KEYS and answer["status"] == status
    assert "Traceback" not in body.decode()
