"""Schema migrations: tables, enums, indexes, pgmq and its queues."""

from db.migrate import migrate

__all__ = ["main", "migrate"]


def main() -> None:
    from common.logging import configure_logging
    from common.settings import ServiceSettings

    settings = ServiceSettings.from_env()
    configure_logging("migrate", settings.log_level)
    migrate(settings.database_url)
