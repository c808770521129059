"""Every statement on the functions table, and the creation of revisions by POST and
PUT (SPEC §9). Callers pass a connection inside their transaction; nothing here commits.

A function is read through the view `function_heads`: its own fields joined to its
newest revision and to the revision `live` points at. Writers that change a function's
revisions or aliases first lock its row (`lock_function`, FOR NO KEY UPDATE — which
executions' foreign-key checks do not wait for), so revision numbers are dense and the
pruner never races an alias change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common.contracts import FunctionStatus
from db import aliases, concurrency
from db.pages import fetch_page
from db.records import FunctionRecord, FunctionSpec, FunctionSummary, PageCursor

VIEW = "function_heads"


@dataclass(frozen=True)
class Update:
    """What a PUT did: the function as it is now, and whether it made a revision that
    must be compiled (`compile`) or one that is READY at once (`reused_artifact`)."""

    function: FunctionRecord
    new_revision: bool
    compile: bool


def create_function(conn: psycopg.Connection, spec: FunctionSpec) -> FunctionRecord:
    """The function, its revision 1 (PENDING) and its `live` alias (following latest)."""
    function_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO functions (id, name, description, isolation, revision,"
        " retry_max_attempts, retry_backoff_ms, route, public, concurrency)"
        " VALUES (%s, %s, %s, %s, 1, %s, %s, %s, %s, %s)",
        (
            function_id,
            spec.name,
            spec.description,
            spec.isolation,
            spec.retry.max_attempts,
            spec.retry.backoff_ms,
            spec.route,
            spec.public,
            spec.concurrency,
        ),
    )
    _insert_pending_revision(conn, function_id, 1, spec)
    aliases.create_live(conn, function_id)
    found = get_function(conn, function_id)
    assert found is not None
    return found


def _insert_pending_revision(
    conn: psycopg.Connection, function_id: UUID, revision: int, spec: FunctionSpec
) -> None:
    conn.execute(
        "INSERT INTO revisions (function_id, revision, language, source, timeout_ms,"
        " memory_mb, fuel, env) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            function_id,
            revision,
            spec.language,
            spec.source,
            spec.limits.timeout_ms,
            spec.limits.memory_mb,
            spec.limits.fuel,
            Jsonb(spec.env),
        ),
    )


def _insert_ready_revision(
    conn: psycopg.Connection, head: FunctionRecord, revision: int, spec: FunctionSpec
) -> None:
    """A revision that runs `head`'s artifact under new limits or env: READY at once."""
    conn.execute(
        "INSERT INTO revisions (function_id, revision, language, source, timeout_ms,"
        " memory_mb, fuel, env, status, artifact_sha256, wasm_size, wasm_sha256, built_at)"
        " SELECT function_id, %s, language, source, %s, %s, %s, %s, 'READY',"
        " artifact_sha256, wasm_size, wasm_sha256, now()"
        " FROM revisions WHERE function_id = %s AND revision = %s",
        (
            revision,
            spec.limits.timeout_ms,
            spec.limits.memory_mb,
            spec.limits.fuel,
            Jsonb(spec.env),
            head.id,
            head.revision,
        ),
    )


def get_function(conn: psycopg.Connection, function_id: UUID) -> FunctionRecord | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {FunctionRecord.COLUMNS} FROM {VIEW} WHERE id = %s", (function_id,))
        .fetchone()
    )
    return FunctionRecord.from_row(row) if row else None


def function_exists(conn: psycopg.Connection, function_id: UUID) -> bool:
    found = conn.execute("SELECT 1 FROM functions WHERE id = %s", (function_id,)).fetchone()
    return found is not None


def route_exists(conn: psycopg.Connection, routes: list[str]) -> bool:
    """Whether any of `routes` is a function's route."""
    found = conn.execute(
        "SELECT 1 FROM functions WHERE route = ANY(%s::text[]) LIMIT 1", (routes,)
    ).fetchone()
    return found is not None


def lock_function(conn: psycopg.Connection, function_id: UUID) -> bool:
    """Lock the function's row for a change of its revisions or aliases; False if unknown."""
    found = conn.execute(
        "SELECT 1 FROM functions WHERE id = %s FOR NO KEY UPDATE", (function_id,)
    ).fetchone()
    return found is not None


def touch_function(conn: psycopg.Connection, function_id: UUID) -> None:
    conn.execute("UPDATE functions SET updated_at = now() WHERE id = %s", (function_id,))


def list_functions(
    conn: psycopg.Connection, *, limit: int, before: PageCursor | None, name: str | None = None
) -> list[FunctionSummary]:
    """Newest first, served by the (created_at, id) index; `name` keeps exact matches."""
    if name is None:
        return fetch_page(conn, FunctionSummary, VIEW, limit=limit, before=before)
    return fetch_page(
        conn, FunctionSummary, VIEW, where="name = %s", params=(name,), limit=limit, before=before
    )


def function_cursor(conn: psycopg.Connection, function_id: UUID) -> PageCursor | None:
    row = conn.execute("SELECT created_at, id FROM functions WHERE id = %s", (function_id,))
    found = row.fetchone()
    return PageCursor(found[0], found[1]) if found else None


def update_function(
    conn: psycopg.Connection, function_id: UUID, spec: FunctionSpec
) -> Update | None:
    """PUT (SPEC §9): a new source or language is a new revision to compile; new limits
    or env only, a new revision READY at once on the newest revision's artifact (and
    `live` moves to it unless pinned); anything else changes the function, not its
    revisions. None when the function does not exist."""
    if not lock_function(conn, function_id):
        return None
    head = get_function(conn, function_id)
    assert head is not None
    new_revision = not spec.same_revision_as(head)
    # Reuse needs a built artifact: while the newest revision builds, or after it
    # FAILED, a change of limits alone is compiled again (to the same artifact).
    compile = new_revision and not (spec.builds_like(head) and head.status == FunctionStatus.READY)
    revision = head.revision + 1 if new_revision else head.revision
    conn.execute(
        "UPDATE functions SET name = %s, description = %s, isolation = %s, revision = %s,"
        " retry_max_attempts = %s, retry_backoff_ms = %s, route = %s, public = %s,"
        " concurrency = %s, updated_at = now() WHERE id = %s",
        (
            spec.name,
            spec.description,
            spec.isolation,
            revision,
            spec.retry.max_attempts,
            spec.retry.backoff_ms,
            spec.route,
            spec.public,
            spec.concurrency,
            function_id,
        ),
    )
    if spec.concurrency != head.concurrency:  # a raised or lifted limit frees slots now
        concurrency.wake_deferred(conn, function_id, every=True)
    if compile:
        _insert_pending_revision(conn, function_id, revision, spec)
    elif new_revision:
        _insert_ready_revision(conn, head, revision, spec)
        aliases.follow_ready(conn, function_id, revision)
    updated = get_function(conn, function_id)
    assert updated is not None
    return Update(updated, new_revision=new_revision, compile=compile)


def delete_function(conn: psycopg.Connection, function_id: UUID) -> bool:
    """Delete a function; its revisions, aliases, schedules and executions go with it
    (CASCADE).
    Its artifacts stay for other revisions sharing them, or until the pruner's sweep."""
    return conn.execute("DELETE FROM functions WHERE id = %s", (function_id,)).rowcount == 1


def count_by_status(conn: psycopg.Connection) -> dict[str, int]:
    """Functions by their newest revision's status."""
    rows = conn.execute(f"SELECT status, count(*) FROM {VIEW} GROUP BY status").fetchall()
    return {str(status): count for status, count in rows}
