"""The invocation workers: run the asynchronous executions queued on `executions`."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def main() -> None:
    from common.db import open_pool
    from common.health_server import serve_health
    from common.logging import configure_logging
    from common.runners import make_runners
    from invoker.settings import Settings
    from invoker.worker import Invoker

    settings = Settings.from_env()
    configure_logging("invoker", settings.log_level)
    # First boot: the migrations may not have run yet; wait for them, never crash-loop.
    from db.migrate import wait_for_schema

    wait_for_schema(settings.database_url)
    db = open_pool(
        settings.database_url, min_size=1, max_size=settings.concurrency + 3, name="invoker"
    )
    runners = make_runners(settings)
    invoker = Invoker(db, runners, settings)
    invoker.stop_flag.install_signal_handlers()
    server = serve_health(
        settings.health_host,
        settings.health_port,
        lambda: not invoker.stop_flag.stopping,
        settings.metrics_dir,
    )
    logger.info(
        "invoker.started",
        extra={"concurrency": settings.concurrency, "healthPort": settings.health_port},
    )
    try:
        invoker.run()
    finally:
        server.shutdown()
        runners.close()
        db.close()
        logger.info("invoker.stopped")
