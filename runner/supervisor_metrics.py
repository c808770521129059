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
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from common import runner_dir as rd
from common import unix_http
from common.side_http import Answer, SideServer, serve

if TYPE_CHECKING:
    from runner.supervisor import Supervisor

logger = logging.getLogger(__name__)


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


def serve_runner_metrics(supervisor: Supervisor, host: str, port: int) -> SideServer | None:
    """Serve the pool's metrics; a port already taken costs the endpoint, not the pool."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector(supervisor))

    def metrics() -> Answer:
        return 200, generate_latest(registry), CONTENT_TYPE_LATEST

    def health() -> Answer:
        up = not supervisor.stop_flag.stopping
        body = b'{"status": "UP"}' if up else b'{"status": "DOWN"}'
        return 200 if up else 503, body, "application/json"

    try:
        server = serve((host, port), {"/metrics": metrics, "/health": health}, "runner-metrics")
    except OSError as exc:
        logger.warning("supervisor.metrics_unavailable", extra={"port": port, "error": str(exc)})
        return None
    logger.info("supervisor.metrics", extra={"host": host, "port": port})
    return server
