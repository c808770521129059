"""Ordered, tracked, concurrency-safe schema migrations.

Migrations run in one transaction under an advisory lock: a second process that
starts at the same time waits, then finds everything applied. SQL migrations are
`db/migrations/NNNN_name.sql`; the pgmq install is the one step written in Python
because it depends on what the server offers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

import psycopg
from pgmq.install import get_embedded_install_sql

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "nil_schema_migrations"
_LOCK_KEY = 0x6E696C  # "nil"


@dataclass(frozen=True)
class Migration:
    version: str
    apply: Callable[[psycopg.Connection], None]


def install_pgmq(conn: psycopg.Connection) -> None:
    """The real extension where the server has it, else pgmq's own SQL."""
    has_extension = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq'"
    ).fetchone()
    if has_extension:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgmq")
        return
    installed = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq'").fetchone()
    if not installed:
        conn.execute(get_embedded_install_sql())


def _sql_migration(name: str) -> Migration:
    text = files("db").joinpath("migrations", name).read_text(encoding="utf-8")
    return Migration(version=name.removesuffix(".sql"), apply=lambda conn: conn.execute(text))


def all_migrations() -> list[Migration]:
    sql_files = sorted(
        p.name for p in files("db").joinpath("migrations").iterdir() if p.name.endswith(".sql")
    )
    return sorted(
        [Migration("0001_pgmq", install_pgmq), *(_sql_migration(n) for n in sql_files)],
        key=lambda m: m.version,
    )


def migrate(url: str, *, until: str | None = None) -> list[str]:
    """Apply every pending migration (up to and including `until`, for tests of a data
    migration); returns the versions applied now."""
    applied_now = []
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE}")}
        for migration in all_migrations():
            if until is not None and migration.version > until:
                break
            if migration.version in done:
                continue
            migration.apply(conn)
            conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (version) VALUES (%s)", (migration.version,)
            )
            applied_now.append(migration.version)
            logger.info("migration.applied", extra={"version": migration.version})
    return applied_now


def pending(url: str) -> list[str]:
    """The migrations this code knows that the database has not applied (all of them
    when it has none); raises psycopg.OperationalError when the database is down."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (MIGRATIONS_TABLE,)).fetchone()[0]
        done = (
            {row[0] for row in conn.execute(f"SELECT version FROM {MIGRATIONS_TABLE}")}
            if exists
            else set()
        )
    return [m.version for m in all_migrations() if m.version not in done]


def wait_for_schema(
    url: str,
    *,
    stopping: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    max_delay: float = 10.0,
) -> bool:
    """Wait, with backoff (0.5 s doubling to `max_delay`), until the database is up and
    every migration this code knows is applied: a service started before the migrations
    (first boot) waits for them instead of crash-looping. False if `stopping()` first."""
    delay = 0.5
    while not stopping():
        try:
            missing = pending(url)
        except psycopg.OperationalError as exc:
            missing, error = None, str(exc).strip()[:200]
        else:
            error = ""
        if missing == []:
            return True
        logger.warning(
            "schema.waiting",
            extra={"pending": missing, "error": error, "retryInSeconds": delay},
        )
        sleep(delay)
        delay = min(delay * 2, max_delay)
    return False
