"""Every metric the gateway exports, and its /metrics endpoint. Labels are route
templates, languages and outcomes, never raw paths or ids.

- defined here: nil_http_requests_total, nil_http_request_duration_seconds
- recorded by the shared execution path (common/execution.py): nil_executions_total,
  nil_execution_duration_seconds, nil_execution_fuel_used, nil_runner_wait_seconds
- read at scrape time (PlatformCollector): nil_functions, nil_queue_messages,
  nil_queue_visible_messages, nil_queue_oldest_message_age_seconds,
  nil_runner_pool_runners, nil_runner_pool_busy, nil_runner_pool_idle,
  nil_runner_pool_replacements_total, nil_component_up
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from common.contracts import FunctionStatus
from common.errors import NilError
from common.execution import (  # noqa: F401 — exported by this service too
    EXECUTION_FUEL,
    EXECUTION_SECONDS,
    EXECUTIONS,
    RUNNER_WAIT_SECONDS,
)
from common.metrics import exposition

HTTP_REQUESTS = Counter(
    "nil_http_requests_total", "HTTP requests served", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "nil_http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


def _route() -> str:
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def _method() -> str:
    return request.method if request.method in _METHODS else "OTHER"


def init_app(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        route, method = _route(), _method()
        HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        if "started" in g:
            HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - g.started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        platform = app.extensions["nil"]
        body, content_type = exposition(
            PlatformCollector(platform), metrics_dir=platform.settings.metrics_dir
        )
        return Response(body, content_type=content_type)


class PlatformCollector:
    """Gauges read at scrape time: functions by status, the compilation queues (pgmq's
    own metrics), the runner pool (what discovery finds, and the supervisor's state)."""

    def __init__(self, platform) -> None:
        self.platform = platform

    def collect(self) -> Iterator[Metric]:
        database_up = yield from self._database()
        runners_up = yield from self._pool()
        up = GaugeMetricFamily(
            "nil_component_up",
            "1 when a component the gateway needs answers (readiness)",
            labels=["component"],
        )
        up.add_metric(["database"], 1 if database_up else 0)
        up.add_metric(["runners"], 1 if runners_up else 0)
        yield up

    def _database(self) -> Generator[Metric, None, bool]:
        from common.db import transaction
        from db import functions as repo

        try:
            with transaction(self.platform.db) as conn:
                counts = repo.count_by_status(conn)
            depths = self.platform.queues.depths()
        except NilError:
            return False
        functions = GaugeMetricFamily("nil_functions", "Functions by status", labels=["status"])
        for status in FunctionStatus:
            functions.add_metric([status.value], counts.get(status.value, 0))
        yield functions
        length = GaugeMetricFamily("nil_queue_messages", "Messages in a queue", labels=["queue"])
        visible = GaugeMetricFamily(
            "nil_queue_visible_messages", "Messages ready to be read", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "nil_queue_oldest_message_age_seconds",
            "Age of the oldest message (for results: the consumer's lag)",
            labels=["queue"],
        )
        for depth in depths:
            length.add_metric([depth.queue], depth.length)
            visible.add_metric([depth.queue], depth.visible)
            age.add_metric([depth.queue], depth.oldest_age_seconds)
        yield from (length, visible, age)
        return True

    def _pool(self) -> Generator[Metric, None, bool]:
        """From the runners' own health answers, whatever the discovery backend."""
        runners = self.platform.runners
        pool = runners.status()
        size = GaugeMetricFamily("nil_runner_pool_runners", "Shared runners in the pool")
        size.add_metric([], pool.size)
        busy_gauge = GaugeMetricFamily("nil_runner_pool_busy", "Runners running a call now")
        busy_gauge.add_metric([], pool.busy)
        idle = GaugeMetricFamily("nil_runner_pool_idle", "Runners free now")
        idle.add_metric([], pool.idle)
        yield from (size, busy_gauge, idle)
        replaced = runners.replacements()
        if replaced is not None:
            replacements = CounterMetricFamily(
                "nil_runner_pool_replacements", "Runners replaced after dying or hanging"
            )
            replacements.add_metric([], replaced)
            yield replacements
        return pool.healthy > 0
