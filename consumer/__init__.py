"""The consumer (`python -m consumer`): applies compilation results to revisions, warming
a runner with each new artifact first (results.py, warmer.py), and keeps house
(housekeeping.py): sweeps executions lost in RUNNING (sweeper.py), prunes old artifacts."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def main() -> None:
    from common.db import open_pool
    from common.health_server import serve_health
    from common.logging import configure_logging
    from common.runners import make_runners
    from common.secrets import Keyring
    from consumer.housekeeping import Housekeeping, Pruner, Task
    from consumer.reseal import Resealer
    from consumer.results import ResultConsumer
    from consumer.retention import Retention
    from consumer.settings import Settings
    from consumer.sweeper import Sweeper
    from consumer.warmer import ArtifactWarmer

    settings = Settings.from_env()
    configure_logging("consumer", settings.log_level)
    # First boot: the migrations may not have run yet; wait for them, never crash-loop.
    from db.migrate import wait_for_schema

    wait_for_schema(settings.database_url)
    db = open_pool(settings.database_url, min_size=1, max_size=2, name="consumer")
    visibility = settings.visibility_seconds
    # A warm-up is bounded well inside the visibility timeout; one result per read, so
    # a result does not wait unseen behind a long warm-up of another.
    warmer = ArtifactWarmer(make_runners(settings), timeout_seconds=visibility * 0.75)
    housekeeping = Housekeeping(
        [
            Task("sweep", Sweeper(db).sweep, every_seconds=10),
            Task("prune", Pruner(db).prune, every_seconds=60),
            Task("reseal", Resealer(db, Keyring.from_settings(settings)).reseal, every_seconds=60),
            Task(
                "retention",
                Retention(db, days=settings.execution_retention_days).run,
                every_seconds=300,
            ),
        ]
    )
    consumer = ResultConsumer(
        db, visibility_timeout=visibility, warmer=warmer, housekeeping=housekeeping, batch_size=1
    )
    consumer.stop_flag.install_signal_handlers()
    server = serve_health(
        settings.health_host,
        settings.health_port,
        lambda: not consumer.stop_flag.stopping,
        settings.metrics_dir,
    )
    logger.info("consumer.started", extra={"healthPort": settings.health_port})
    try:
        consumer.run()
    finally:
        server.shutdown()
        db.close()
        logger.info("consumer.stopped")
