"""The gateway's Prometheus metrics. Labels are route templates, never raw paths or ids."""

from __future__ import annotations

import contextlib
import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

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
        from gateway.collector import PlatformCollector

        platform = app.extensions["nil"]
        body, content_type = exposition(
            PlatformCollector(platform), metrics_dir=platform.settings.metrics_dir
        )
        return Response(body, content_type=content_type)


EXECUTIONS = Counter(
    "nil_executions_total", "Executions by language and outcome", ["language", "outcome"]
)
EXECUTION_SECONDS = Histogram(
    "nil_execution_duration_seconds",
    "Time the runner spent on one execution",
    ["language"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
)
EXECUTION_FUEL = Histogram(
    "nil_execution_fuel_used",
    "Fuel one execution consumed",
    ["language"],
    buckets=(1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10),
)
RUNNER_WAIT_SECONDS = Histogram(
    "nil_runner_wait_seconds",
    "Time an execution waited for a free runner",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)


def observe_execution(language: str, result) -> None:
    EXECUTIONS.labels(language, result.outcome.value).inc()
    EXECUTION_SECONDS.labels(language).observe(result.duration_ms / 1000)
    EXECUTION_FUEL.labels(language).observe(result.fuel_used)


@contextlib.contextmanager
def time_runner_wait():
    """Yields a function to call once a runner is leased; observes the wait."""
    started = time.perf_counter()
    done = False

    def leased() -> None:
        nonlocal done
        if not done:
            RUNNER_WAIT_SECONDS.observe(time.perf_counter() - started)
            done = True

    yield leased
