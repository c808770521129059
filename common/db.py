"""The process's one connection pool (named `db` wherever it is passed), and the one
place psycopg errors are translated."""

from __future__ import annotations

import contextlib
import logging
import select
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
        # Checked on checkout: after a database restart no request is handed a dead
        # connection (check_on_checkout).
        check=check_on_checkout,
        # Autocommit: a single statement needs no BEGIN/COMMIT round trips; multi-
        # statement work opens a transaction explicitly (transaction() below).
        kwargs={"connect_timeout": 5, "autocommit": True},
    )
    pool.open(wait=False)
    return pool


def check_on_checkout(conn: psycopg.Connection) -> None:
    """The pool's check, in no round trip when it can: an idle connection of the pool has
    nothing to read, so a socket that is readable (the server said goodbye: a restart's
    "terminating connection", or it closed) or a connection not idle gets the real check,
    an empty query that fails on a dead connection (the pool then opens another). A
    healthy one costs a poll() of its socket instead of a round trip to PostgreSQL on
    every checkout — two per execution."""
    try:
        poller = select.poll()
        poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
        quiet = not poller.poll(0)
    except (OSError, psycopg.Error):
        quiet = False
    if quiet and not conn.closed and conn.info.transaction_status == _IDLE:
        return
    psycopg_pool.ConnectionPool.check_connection(conn)


_IDLE = psycopg.pq.TransactionStatus.IDLE


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
