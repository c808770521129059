"""The consumer (`python -m consumer`): applies compilation results to revisions, warming
a runner with each new artifact first (results.py, warmer.py), and keeps house
(housekeeping.py): sweeps executions lost in RUNNING (sweeper.py), prunes old artifacts."""

from __future__ import annotations


def main() -> None:
    from common.logging import configure_logging
    from common.runners import make_runners
    from common.secrets import Keyring
    from common.service import open_service_pool, serve_until_stopped
    from consumer.housekeeping import Housekeeping, Pruner, Task
    from consumer.reseal import Resealer
    from consumer.results import ResultConsumer
    from consumer.retention import Retention
    from consumer.settings import Settings
    from consumer.sweeper import Sweeper
    from consumer.warmer import ArtifactWarmer

    settings = Settings.from_env()
    configure_logging("consumer", settings.log_level)
    db = open_service_pool("consumer", settings, max_size=2)
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
    serve_until_stopped("consumer", consumer, settings, db)
