"""A worker process's /health and /metrics, on a side thread (common/side_http.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

from common.metrics import exposition
from common.side_http import Answer, SideServer, serve


def serve_health(
    host: str, port: int, is_healthy: Callable[[], bool], metrics_dir: str = ""
) -> SideServer:
    def health() -> Answer:
        up = is_healthy()
        body = json.dumps({"status": "UP" if up else "DOWN"}).encode()
        return 200 if up else 503, body, "application/json"

    def metrics() -> Answer:
        body, content_type = exposition(metrics_dir=metrics_dir)
        return 200, body, content_type

    return serve((host, port), {"/health": health, "/metrics": metrics}, "health")
