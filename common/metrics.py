"""Prometheus exposition shared by the services.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (a service's
`metrics_dir` setting): every worker writes its samples there and `/metrics` aggregates
them (multiprocess mode).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)


def exposition(*scrape_time: object, metrics_dir: str = "") -> tuple[bytes, str]:
    """The current metrics as Prometheus text, aggregated across the processes that
    write to `metrics_dir` if given, plus collectors that read their values at scrape
    time."""
    if metrics_dir:
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base, metrics_dir)
    else:
        base = REGISTRY
    body = generate_latest(base)
    if scrape_time:
        extra = CollectorRegistry(auto_describe=False)
        for collector in scrape_time:
            extra.register(collector)
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST
