"""Every statement on the functions table. Callers pass a connection inside their
transaction; nothing here commits."""

from __future__ import annotations

import hashlib
import uuid
from enum import StrEnum
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from common.contracts import CompilationResult, FunctionStatus
from db.pages import fetch_page
from db.records import FunctionRecord, FunctionSpec, FunctionSummary, PageCursor

_RETURNING = f"RETURNING {FunctionRecord.COLUMNS}"


class ApplyOutcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # the function has moved on to a newer revision
    MISSING = "missing"  # the function was deleted


def create_function(conn: psycopg.Connection, spec: FunctionSpec) -> FunctionRecord:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "INSERT INTO functions (id, name, description, language, source,"
            " timeout_ms, memory_mb, fuel, isolation)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) " + _RETURNING,
            (
                uuid.uuid4(),
                spec.name,
                spec.description,
                spec.language,
                spec.source,
                spec.limits.timeout_ms,
                spec.limits.memory_mb,
                spec.limits.fuel,
                spec.isolation,
            ),
        )
        .fetchone()
    )
    return FunctionRecord.from_row(row)


def get_function(
    conn: psycopg.Connection, function_id: UUID, *, lock: bool = False
) -> FunctionRecord | None:
    suffix = " FOR UPDATE" if lock else ""
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {FunctionRecord.COLUMNS} FROM functions WHERE id = %s{suffix}", (function_id,)
        )
        .fetchone()
    )
    return FunctionRecord.from_row(row) if row else None


def get_wasm_binary(conn: psycopg.Connection, function_id: UUID) -> bytes | None:
    row = conn.execute(
        "SELECT wasm_binary FROM functions WHERE id = %s AND status = 'READY'", (function_id,)
    ).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def list_functions(
    conn: psycopg.Connection, *, limit: int, before: PageCursor | None
) -> list[FunctionSummary]:
    """Newest first, served by the (created_at, id) index."""
    return fetch_page(conn, FunctionSummary, "functions", limit=limit, before=before)


def function_cursor(conn: psycopg.Connection, function_id: UUID) -> PageCursor | None:
    row = conn.execute("SELECT created_at, id FROM functions WHERE id = %s", (function_id,))
    found = row.fetchone()
    return PageCursor(found[0], found[1]) if found else None


def update_function(
    conn: psycopg.Connection, function_id: UUID, spec: FunctionSpec
) -> tuple[FunctionRecord, bool] | None:
    """Replace a function's settings. Returns (record, recompile) or None when unknown.

    A change of source or language starts a new revision: PENDING, artifact cleared.
    """
    current = get_function(conn, function_id, lock=True)
    if current is None:
        return None
    recompile = current.source != spec.source or current.language != spec.language
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "UPDATE functions SET name = %(name)s, description = %(description)s,"
            " language = %(language)s, source = %(source)s, timeout_ms = %(timeout_ms)s,"
            " memory_mb = %(memory_mb)s, fuel = %(fuel)s, isolation = %(isolation)s,"
            " updated_at = now(),"
            " revision = revision + %(bump)s,"
            " status = CASE WHEN %(recompile)s THEN 'PENDING' ELSE status END,"
            " compile_error = CASE WHEN %(recompile)s THEN NULL ELSE compile_error END,"
            " wasm_binary = CASE WHEN %(recompile)s THEN NULL ELSE wasm_binary END,"
            " wasm_size = CASE WHEN %(recompile)s THEN NULL ELSE wasm_size END,"
            " wasm_sha256 = CASE WHEN %(recompile)s THEN NULL ELSE wasm_sha256 END"
            " WHERE id = %(id)s " + _RETURNING,
            {
                "id": function_id,
                "name": spec.name,
                "description": spec.description,
                "language": spec.language,
                "source": spec.source,
                "timeout_ms": spec.limits.timeout_ms,
                "memory_mb": spec.limits.memory_mb,
                "fuel": spec.limits.fuel,
                "isolation": spec.isolation,
                "bump": 1 if recompile else 0,
                "recompile": recompile,
            },
        )
        .fetchone()
    )
    return FunctionRecord.from_row(row), recompile


def delete_function(conn: psycopg.Connection, function_id: UUID) -> bool:
    """Delete a function; its executions go with it (ON DELETE CASCADE)."""
    return conn.execute("DELETE FROM functions WHERE id = %s", (function_id,)).rowcount == 1


def mark_compiling(conn: psycopg.Connection, function_id: UUID, revision: int) -> bool:
    """PENDING → COMPILING for this revision; False when the job is stale or done."""
    cur = conn.execute(
        "UPDATE functions SET status = 'COMPILING', updated_at = now()"
        " WHERE id = %s AND revision = %s AND status IN ('PENDING', 'COMPILING')",
        (function_id, revision),
    )
    return cur.rowcount == 1


def awaits_result(conn: psycopg.Connection, function_id: UUID, revision: int) -> bool:
    """True while this revision still waits for a compilation result."""
    row = conn.execute(
        "SELECT 1 FROM functions WHERE id = %s AND revision = %s"
        " AND status IN ('PENDING', 'COMPILING')",
        (function_id, revision),
    ).fetchone()
    return row is not None


def apply_result(conn: psycopg.Connection, result: CompilationResult) -> ApplyOutcome:
    """Apply a compilation result idempotently; stale or orphaned results change nothing."""
    binary = result.wasm_binary if result.success else None
    cur = conn.execute(
        "UPDATE functions SET status = %s, compile_error = %s, wasm_binary = %s,"
        " wasm_size = %s, wasm_sha256 = %s, updated_at = now()"
        " WHERE id = %s AND revision = %s",
        (
            FunctionStatus.READY if result.success else FunctionStatus.FAILED,
            None if result.success else result.error,
            binary,
            len(binary) if binary is not None else None,
            hashlib.sha256(binary).hexdigest() if binary is not None else None,
            result.function_id,
            result.revision,
        ),
    )
    if cur.rowcount == 1:
        return ApplyOutcome.APPLIED
    exists = conn.execute("SELECT 1 FROM functions WHERE id = %s", (result.function_id,))
    return ApplyOutcome.STALE if exists.fetchone() else ApplyOutcome.MISSING


def count_by_status(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM functions GROUP BY status").fetchall()
    return {str(status): count for status, count in rows}
