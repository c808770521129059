"""The process's one connection pool (named `db` wherever it is passed), and the one
place psycopg errors are translated."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg
import psycopg_pool

from common.errors import Conflict, DatabaseUnavailable, DataRejected, SchemaNotReady

# What a database without the platform's schema (first boot, migrations still running)
# answers: a missing table, pgmq's missing functions or schema. Retryable, like a
# database that is down, never a crash.
_SCHEMA_MISSING = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.InvalidSchemaName,
)

logger = logging.getLogger(__name__)


def open_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, name: str = "nil"
) -> psycopg_pool.ConnectionPool:
    """Open the process's pool of autocommit connections."""
    pool = psycopg_pool.ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        timeout=5.0,
        # Checked on checkout (an empty query, ~0.05 ms): after a database restart no
        # request is handed a dead connection.
        check=psycopg_pool.ConnectionPool.check_connection,
        # Autocommit: a single statement needs no BEGIN/COMMIT round trips; multi-
        # statement work opens a transaction explicitly (transaction() below).
        kwargs={"connect_timeout": 5, "autocommit": True},
    )
    pool.open(wait=False)
    return pool


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn connection-level failures into DatabaseUnavailable (HTTP 503), a schema not
    migrated yet into SchemaNotReady (a 503 too, retried like it), a value the database
    refuses (invalid jsonb, a number out of range) into DataRejected, and a route another
    function holds into a Conflict (409)."""
    try:
        yield
    except _SCHEMA_MISSING as exc:
        logger.warning("database.schema_not_ready", extra={"error": _first_line(exc)})
        raise SchemaNotReady() from exc
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
        logger.warning("database.unavailable", extra={"error": str(exc).strip()[:200]})
        raise DatabaseUnavailable() from exc
    except psycopg.DataError as exc:
        raise DataRejected(_first_line(exc)) from exc
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "functions_route_idx":
            detail = exc.diag.message_detail or ""
            route = detail.partition("=(")[2].rpartition(")")[0]
            raise Conflict(f"route {route!r} is taken by another function") from exc
        raise


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@contextlib.contextmanager
def connection(db: psycopg_pool.ConnectionPool) -> Iterator[psycopg.Connection]:
    """An autocommit connection for single statements, with errors translated."""
    with translate_errors(), db.connection() as conn:
        yield conn


@contextlib.contextmanager
def transaction(db: psycopg_pool.ConnectionPool) -> Iterator[psycopg.Connection]:
    """A connection from the pool `db` inside one transaction, with errors translated."""
    with translate_errors(), db.connection() as conn, conn.transaction():
        yield conn
