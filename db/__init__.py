"""Schema migrations: tables, enums, indexes, pgmq and its queues."""

from db.migrate import migrate

__all__ = ["main", "migrate"]


def main() -> None:
    """`python -m db`: wait for the database to accept connections (with backoff: the
    bundled PostgreSQL may still be initialising when a pod's initContainer starts),
    then apply every pending migration under the advisory lock."""
    import logging
    import time

    import psycopg

    from common.logging import configure_logging
    from common.settings import ServiceSettings

    settings = ServiceSettings.from_env()
    configure_logging("migrate", settings.log_level)
    logger = logging.getLogger("db")
    delay = 0.5
    while True:
        try:
            applied = migrate(settings.database_url)
        except psycopg.OperationalError as exc:
            logger.warning(
                "migrate.database_unavailable",
                extra={"error": str(exc).strip()[:200], "retryInSeconds": delay},
            )
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        logger.info("migrate.done", extra={"applied": applied})
        return
