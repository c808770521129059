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


def exposition() -> tuple[bytes, str]:
    """The current metrics as Prometheus text, aggregated across processes if needed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
