"""The runner's metrics listener: a separate socket (a TCP port in Kubernetes, metrics.sock
beside runner.sock locally and in Docker) serving `GET /metrics` (Prometheus text) and
`GET /health` (the runner's health answer as JSON: 200 while it serves, busy or not; 503
once it drains). It can execute nothing, so opening
it to Prometheus opens no execution."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from common.contracts import RunnerHealth
from common.metrics import exposition
from common.side_http import Answer, SideServer, serve


def serve_metrics(
    sock: socket.socket, health: Callable[[], RunnerHealth], metrics_dir: str = ""
) -> SideServer:
    def runner_health() -> Answer:  # 503 while draining: no longer ready
        answer = health()
        status = 200 if answer.status == "UP" else 503
        return status, json.dumps(answer.to_json()).encode(), "application/json"

    def metrics() -> Answer:
        body, content_type = exposition(metrics_dir=metrics_dir)
        return 200, body, content_type

    sock.settimeout(None)
    return serve(sock, {"/metrics": metrics, "/health": runner_health}, "metrics")
