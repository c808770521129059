"""One scrapable endpoint for a supervised pool (`make dev`, the Docker backend): every
runner's metrics, read from its metrics socket and labelled `runner="<name>"`, plus the
supervisor's own gauges. Prometheus cannot reach the runners' unix sockets (and Docker
runners have no network at all); it scrapes `NIL_SUPERVISOR_PORT` instead.

- nil_supervisor_runners{kind}: shared and dedicated runners kept now
- nil_supervisor_runner_replacements_total: runners replaced after dying or hanging
- nil_supervisor_dedicated_refused: functions refused a dedicated runner (cap, all busy)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from common import runner_dir as rd
from common import unix_http

if TYPE_CHECKING:
    from runner.supervisor import Supervisor

logger = logging.getLogger(__name__)
NOT_FOUND = b'{"status": 404, "error": "Not Found"}'


class PoolCollector:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        slots = list(self.supervisor.slots.values())
        families: dict[str, Metric] = {}
        for slot in slots:
            for family in _scrape(slot.directory / rd.METRICS_SOCKET):
                merged = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    labels = {"runner": slot.name, **sample.labels}
                    merged.add_sample(sample.name, labels, sample.value, sample.timestamp)
        yield from families.values()
        kinds = GaugeMetricFamily(
            "nil_supervisor_runners", "Runners the supervisor keeps now", labels=["kind"]
        )
        dedicated = sum(1 for s in slots if s.function_id is not None)
        kinds.add_metric(["shared"], len(slots) - dedicated)
        kinds.add_metric(["dedicated"], dedicated)
        yield kinds
        replaced = CounterMetricFamily(
            "nil_supervisor_runner_replacements", "Runners replaced after dying or hanging"
        )
        replaced.add_metric([], self.supervisor.replacements)
        yield replaced
        refused = GaugeMetricFamily(
            "nil_supervisor_dedicated_refused",
            "Functions refused a dedicated runner now (the cap is reached, all busy)",
        )
        refused.add_metric([], len(self.supervisor.dedicated_refused))
        yield refused


def _scrape(socket_path) -> list[Metric]:
    try:
        status, body = unix_http.request(f"unix:{socket_path}", "GET", "/metrics", timeout=2.0)
    except OSError:
        return []  # starting, or gone: its series are absent from this scrape
    if status != 200:
        return []
    return list(text_string_to_metric_families(body.decode()))


def serve_runner_metrics(
    supervisor: Supervisor, host: str, port: int
) -> ThreadingHTTPServer | None:
    """Serve the pool's metrics; a port already taken costs the endpoint, not the pool."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(supervisor))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = generate_latest(registry), 200, CONTENT_TYPE_LATEST
            else:
                body, status, kind = (
                    b'{"status": 404, "error": "Not Found"}',
                    404,
                    "application/json",
                )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        logger.warning("supervisor.metrics_unavailable", extra={"port": port, "error": str(exc)})
        return None
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True, name="runner-metrics").start()
    logger.info("supervisor.metrics", extra={"host": host, "port": port})
    return server
