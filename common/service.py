"""How a long-running worker service (builder, consumer, invoker, scheduler) starts and stops.

Each of them does the same around its own loop: wait for the schema (on a first boot the
migrations may not have run yet — wait, never crash-loop), open its connection pool, stop
on SIGTERM/SIGINT, serve /health and /metrics on a side port while it runs, and close
what it opened when its loop returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from psycopg_pool import ConnectionPool


class _Settings(Protocol):
    database_url: str
    health_host: str
    health_port: int
    metrics_dir: str


class _Worker(Protocol):
    stop_flag: Any

    def run(self) -> int: ...


def open_service_pool(name: str, settings: _Settings, *, max_size: int) -> ConnectionPool:
    """The service's pool, once the schema is there."""
    from common.db import open_pool
    from db.migrate import wait_for_schema

    wait_for_schema(settings.database_url)
    return open_pool(settings.database_url, min_size=1, max_size=max_size, name=name)


def serve_until_stopped(
    name: str,
    worker: _Worker,
    settings: _Settings,
    db: ConnectionPool,
    *,
    started: Mapping[str, object] | None = None,
    closing: tuple[Callable[[], object], ...] = (),
) -> None:
    """Run `worker` until a signal stops it, healthy while it is not stopping; log
    `<name>.started` (with `started`'s fields) and `<name>.stopped`."""
    from common.health_server import serve_health

    logger = logging.getLogger(name)
    worker.stop_flag.install_signal_handlers()
    server = serve_health(
        settings.health_host,
        settings.health_port,
        lambda: not worker.stop_flag.stopping,
        settings.metrics_dir,
    )
    logger.info(f"{name}.started", extra={**(started or {}), "healthPort": settings.health_port})
    try:
        worker.run()
    finally:
        server.shutdown()
        for close in closing:
            close()
        db.close()
        logger.info(f"{name}.stopped")
