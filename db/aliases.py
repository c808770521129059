"""Every statement on the aliases table (SPEC §9). Callers that change aliases hold the
function's row lock (db.functions.lock_function) inside their transaction.

`live` is a row of every function: unpinned, it follows the newest READY revision
(`follow_ready`, called in the transaction that makes a revision READY, so `live` never
lags and never moves backwards); pinned, it stays where it was put. `latest` is no row:
it is computed from the revisions.
"""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from db.records import AliasRecord
from db.targets import LATEST, LIVE


def create_live(conn: psycopg.Connection, function_id: UUID) -> None:
    conn.execute(
        "INSERT INTO aliases (function_id, name, revision, pinned) VALUES (%s, %s, NULL, false)",
        (function_id, LIVE),
    )


def follow_ready(conn: psycopg.Connection, function_id: UUID, revision: int) -> bool:
    """Move an unpinned `live` forward to a revision that just became READY."""
    cur = conn.execute(
        "UPDATE aliases SET revision = %s, updated_at = now()"
        " WHERE function_id = %s AND name = %s AND NOT pinned"
        " AND (revision IS NULL OR revision < %s)",
        (revision, function_id, LIVE, revision),
    )
    return cur.rowcount == 1


def latest(conn: psycopg.Connection, function_id: UUID) -> AliasRecord:
    """`latest`: the newest READY revision (None before one is), since it was built."""
    row = conn.execute(
        "SELECT revision, built_at FROM revisions WHERE function_id = %s AND status = 'READY'"
        " ORDER BY revision DESC LIMIT 1",
        (function_id,),
    ).fetchone()
    revision, built_at = row if row else (None, None)
    return AliasRecord(LATEST, revision, None, pinned=False, updated_at=built_at)


def get_alias(conn: psycopg.Connection, function_id: UUID, name: str) -> AliasRecord | None:
    if name == LATEST:
        return latest(conn, function_id)
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {AliasRecord.COLUMNS} FROM aliases WHERE function_id = %s AND name = %s",
            (function_id, name),
        )
        .fetchone()
    )
    return AliasRecord.from_row(row) if row else None


def list_aliases(conn: psycopg.Connection, function_id: UUID) -> list[AliasRecord]:
    """`latest`, `live`, then the others by name."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {AliasRecord.COLUMNS} FROM aliases WHERE function_id = %s"
            " ORDER BY name <> %s, name",
            (function_id, LIVE),
        )
        .fetchall()
    )
    return [latest(conn, function_id), *(AliasRecord.from_row(r) for r in rows)]


def set_alias(
    conn: psycopg.Connection,
    function_id: UUID,
    name: str,
    *,
    revision: int | None = None,
    routes: dict[int, int] | None = None,
) -> AliasRecord:
    """Point `name` at one revision or at weighted routes (pinned), creating it if new."""
    stored = Jsonb({str(k): v for k, v in sorted(routes.items())}) if routes is not None else None
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "INSERT INTO aliases (function_id, name, revision, routes, pinned)"
            " VALUES (%s, %s, %s, %s, true)"
            " ON CONFLICT (function_id, name) DO UPDATE SET revision = EXCLUDED.revision,"
            " routes = EXCLUDED.routes, pinned = true, updated_at = now()"
            f" RETURNING {AliasRecord.COLUMNS}",
            (function_id, name, revision, stored),
        )
        .fetchone()
    )
    return AliasRecord.from_row(row)


def unpin_live(conn: psycopg.Connection, function_id: UUID) -> AliasRecord:
    """`live` follows `latest` again, starting now."""
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "UPDATE aliases SET pinned = false, routes = NULL, updated_at = now(), revision = ("
            "  SELECT max(revision) FROM revisions WHERE function_id = %s AND status = 'READY')"
            f" WHERE function_id = %s AND name = %s RETURNING {AliasRecord.COLUMNS}",
            (function_id, function_id, LIVE),
        )
        .fetchone()
    )
    return AliasRecord.from_row(row)


def delete_alias(conn: psycopg.Connection, function_id: UUID, name: str) -> bool:
    cur = conn.execute(
        "DELETE FROM aliases WHERE function_id = %s AND name = %s", (function_id, name)
    )
    return cur.rowcount == 1
