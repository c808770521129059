"""The scheduler: fires cron schedules' ticks as asynchronous executions (SPEC §11).

Its own service (not a thread of the invocation workers) so that it scales and fails
apart from them: any number may run, since the database decides which one fires a tick
(scheduler/loop.py), and the invokers run what it enqueues like any invocation.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def main() -> None:
    from common.db import open_pool
    from common.health_server import serve_health
    from common.logging import configure_logging
    from scheduler.loop import Scheduler
    from scheduler.settings import Settings

    settings = Settings.from_env()
    configure_logging("scheduler", settings.log_level)
    # First boot: the migrations may not have run yet; wait for them, never crash-loop.
    from db.migrate import wait_for_schema

    wait_for_schema(settings.database_url)
    db = open_pool(settings.database_url, min_size=1, max_size=2, name="scheduler")
    scheduler = Scheduler(db, settings)
    scheduler.stop_flag.install_signal_handlers()
    server = serve_health(
        settings.health_host,
        settings.health_port,
        lambda: not scheduler.stop_flag.stopping,
        settings.metrics_dir,
    )
    logger.info("scheduler.started", extra={"healthPort": settings.health_port})
    try:
        scheduler.run()
    finally:
        server.shutdown()
        db.close()
        logger.info("scheduler.stopped")
