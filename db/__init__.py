"""Schema migrations: tables, enums, indexes, pgmq and its queues."""

from db.migrate import migrate

__all__ = ["main", "migrate"]


def main() -> None:
    from common.config import database_url
    from common.logging import configure_logging

    configure_logging("migrate")
    migrate(database_url())
