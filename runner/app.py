"""The runner's HTTP protocol: a plain WSGI app, served by gunicorn on a unix socket.

    POST /execute  an ExecuteRequest (common/contracts.py) as JSON
        200 its ExecuteReply as JSON
        404 {"error": "module_not_cached"}  → send the module, then retry
    PUT  /modules/<sha256>?language=<lang>   body: the .wasm bytes
        204 cached | 400 {"error": "..."} rejected
    GET  /health             200 {"status": "UP", "pid": worker pid, "modules": n}
    GET  /metrics            Prometheus text

This module is the runner's side of the transport only: what a call means is the wire
contract in common/contracts.py. The runner holds no database credentials and grants
functions no host capability beyond their ABI's imports.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from common.contracts import ExecuteRequest
from common.metrics import exposition
from runner.executor import Executor, ModuleRejected
from runner.settings import Settings

logger = logging.getLogger(__name__)
_MODULE_PATH = re.compile(r"^/modules/([0-9a-f]{64})$")
MAX_REQUEST_BYTES = 16 * 1024 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class BadRequest(Exception):
    pass


def _reply(start: StartResponse, status: str, body: Any, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def _read_body(environ: dict, limit: int) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if length > limit:
        _discard(environ["wsgi.input"], length)  # so the client reads our answer
        raise BadRequest(f"body larger than {limit} bytes")
    return environ["wsgi.input"].read(length) if length else b""


def _discard(stream, length: int, most: int = 128 * 1024 * 1024) -> None:
    remaining = min(length, most)
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            return
        remaining -= len(chunk)


class RunnerApp:
    def __init__(self, settings: Settings | None = None) -> None:
        self.executor = Executor(settings or Settings.from_env())

    def __call__(self, environ: dict, start: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        try:
            if method == "POST" and path == "/execute":
                return self.execute(environ, start)
            match = _MODULE_PATH.match(path)
            if method == "PUT" and match:
                return self.put_module(match.group(1), environ, start)
            if method == "GET" and path == "/health":
                return _reply(
                    start,
                    "200 OK",
                    {"status": "UP", "pid": os.getpid(), "modules": len(self.executor.cache)},
                )
            if method == "GET" and path == "/metrics":
                body, content_type = exposition(metrics_dir=self.executor.settings.metrics_dir)
                return _reply(start, "200 OK", body, content_type)
            return _reply(start, "404 Not Found", {"error": "not_found"})
        except BadRequest as exc:
            return _reply(start, "400 Bad Request", {"error": str(exc)})

    def execute(self, environ: dict, start: StartResponse) -> Iterable[bytes]:
        try:
            request = ExecuteRequest.from_json(json.loads(_read_body(environ, MAX_REQUEST_BYTES)))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest(f"malformed execute request: {exc}") from None
        reply = self.executor.execute(request)
        if reply is None:
            return _reply(start, "404 Not Found", {"error": "module_not_cached"})
        return _reply(start, "200 OK", reply.to_json())

    def put_module(self, sha256: str, environ: dict, start: StartResponse) -> Iterable[bytes]:
        language = _query_param(environ.get("QUERY_STRING", ""), "language")
        wasm = _read_body(environ, self.executor.settings.max_module_bytes)
        if not self.executor.has_module(sha256):
            try:
                self.executor.load_module(sha256, language, wasm)
            except ModuleRejected as exc:
                raise BadRequest(str(exc)) from None
        start("204 No Content", [])
        return []


def _query_param(query: str, name: str) -> str:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return ""
