"""Prometheus exposition shared by the services.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR: every worker
writes its samples there and `/metrics` aggregates them (multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)


def exposition(*scrape_time: object) -> tuple[bytes, str]:
    """The current metrics as Prometheus text, aggregated across processes if needed,
    plus collectors that read their values at scrape time."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    body = generate_latest(base)
    if scrape_time:
        extra = CollectorRegistry(auto_describe=False)
        for collector in scrape_time:
            extra.register(collector)
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST
