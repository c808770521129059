"""The client side of the runner transport: one HTTP request per call, over a unix socket
or TCP. What travels is the wire contract (common/contracts.py); this module only moves
it, and is the one place the client knows the protocol (the runner's side is
runner/app.py).

    POST /execute                            an ExecuteRequest → 200 its ExecuteReply,
                                             404 when the runner lacks the module
    PUT  /modules/<sha256>?language=<name>   the module's bytes → 204 cached
    GET  /health                             200 when the runner serves
"""

from __future__ import annotations

import http.client
import json

from common import unix_http
from common.contracts import ExecuteReply, ExecuteRequest
from common.errors import RunnerFailed


def execute(address: str, request: ExecuteRequest, timeout: float) -> ExecuteReply | None:
    """The runner's reply, or None when it does not hold the module (send it, retry)."""
    body = json.dumps(request.to_json()).encode()
    status, answer = _call(address, "POST", "/execute", body, timeout, "application/json")
    if status == 404:
        return None
    if status != 200:
        raise RunnerFailed(f"runner answered {status}: {answer[:200]!r}")
    return ExecuteReply.from_json(json.loads(answer))


def send_module(address: str, sha256: str, language: str, wasm: bytes, timeout: float) -> None:
    """The runner compiles what it is sent (seconds for a Python component) unless a
    runner of its host compiled it before."""
    path = f"/modules/{sha256}?language={language}"
    status, answer = _call(address, "PUT", path, wasm, timeout, "application/wasm")
    if status != 204:
        raise RunnerFailed(f"runner rejected the module: {answer[:300]!r}")


def healthy(address: str, timeout: float = 1.0) -> bool:
    try:
        status, _ = unix_http.request(address, "GET", "/health", timeout=timeout)
    except (OSError, http.client.HTTPException):
        return False
    return status == 200


def _call(
    address: str, method: str, path: str, body: bytes, timeout: float, content_type: str
) -> tuple[int, bytes]:
    try:
        return unix_http.request(
            address,
            method,
            path,
            body=body,
            timeout=timeout,
            headers={"Content-Type": content_type},
        )
    except (OSError, http.client.HTTPException) as exc:
        raise RunnerFailed(f"runner failed during the call: {exc or type(exc).__name__}") from exc
