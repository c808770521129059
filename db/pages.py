"""Keyset pages shared by the list queries: newest first by (created_at, id), strictly
older than a cursor, read as records."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import psycopg
from psycopg.rows import dict_row

from db.records import PageCursor

R = TypeVar("R", covariant=True)


class Listable(Protocol[R]):
    COLUMNS: str

    def from_row(self, row: dict[str, Any]) -> R: ...


def fetch_page(
    conn: psycopg.Connection,
    record: Listable[R],
    table: str,
    *,
    where: str = "true",
    params: tuple = (),
    limit: int,
    before: PageCursor | None,
) -> list[R]:
    """`SELECT record.COLUMNS FROM table WHERE where`, one page of it."""
    query = f"SELECT {record.COLUMNS} FROM {table} WHERE {where}"
    if before is not None:
        query += " AND (created_at, id) < (%s, %s)"
        params = (*params, before.created_at, before.id)
    query += " ORDER BY created_at DESC, id DESC LIMIT %s"
    rows = conn.cursor(row_factory=dict_row).execute(query, (*params, limit)).fetchall()
    return [record.from_row(row) for row in rows]
