"""Every statement on the executions table."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common.contracts import FunctionStatus, Limits
from db.records import ExecutionRecord, ExecutionTarget, PageCursor

_RETURNING = f"RETURNING {ExecutionRecord.COLUMNS}"


def get_target(conn: psycopg.Connection, function_id: UUID) -> ExecutionTarget | None:
    row = conn.execute(
        "SELECT status, language, timeout_ms, memory_mb, fuel, wasm_sha256, isolation"
        " FROM functions WHERE id = %s",
        (function_id,),
    ).fetchone()
    if row is None:
        return None
    status, language, timeout_ms, memory_mb, fuel, sha, isolation = row
    return ExecutionTarget(
        function_id,
        FunctionStatus(status),
        language,
        Limits(timeout_ms, memory_mb, fuel),
        sha,
        isolation,
    )


def start_execution(
    conn: psycopg.Connection, function_id: UUID, input_value: dict
) -> ExecutionRecord:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "INSERT INTO executions (id, function_id, status, input, started_at)"
            " VALUES (%s, %s, 'RUNNING', %s, now()) " + _RETURNING,
            (uuid.uuid4(), function_id, Jsonb(input_value)),
        )
        .fetchone()
    )
    return ExecutionRecord.from_row(row)


def finish_execution(
    conn: psycopg.Connection,
    execution_id: UUID,
    *,
    output_json: str | None,
    error_message: str | None,
    duration_ms: float | None,
    fuel_used: int | None,
) -> ExecutionRecord | None:
    """RUNNING → COMPLETED (output) or FAILED (error). Only a RUNNING row changes,
    so a late answer cannot overwrite what the sweeper decided."""
    status = "FAILED" if error_message is not None else "COMPLETED"
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "UPDATE executions SET status = %s, output = %s::jsonb, error_message = %s,"
            " duration_ms = %s, fuel_used = %s, completed_at = now()"
            " WHERE id = %s AND status = 'RUNNING' " + _RETURNING,
            (status, output_json, error_message, duration_ms, fuel_used, execution_id),
        )
        .fetchone()
    )
    return ExecutionRecord.from_row(row) if row else None


def get_execution(conn: psycopg.Connection, execution_id: UUID) -> ExecutionRecord | None:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {ExecutionRecord.COLUMNS} FROM executions WHERE id = %s", (execution_id,))
        .fetchone()
    )
    return ExecutionRecord.from_row(row) if row else None


def execution_cursor(conn: psycopg.Connection, execution_id: UUID) -> PageCursor | None:
    found = conn.execute(
        "SELECT created_at, id FROM executions WHERE id = %s", (execution_id,)
    ).fetchone()
    return PageCursor(found[0], found[1]) if found else None


_SUMMARY = "id, function_id, status, started_at, completed_at, duration_ms, created_at"


def list_executions(
    conn: psycopg.Connection, function_id: UUID, *, limit: int, before: PageCursor | None
) -> list[dict[str, Any]]:
    """Newest first, served by the (function_id, created_at, id) index."""
    cur = conn.cursor(row_factory=dict_row)
    if before is None:
        cur.execute(
            f"SELECT {_SUMMARY} FROM executions WHERE function_id = %s"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            (function_id, limit),
        )
    else:
        cur.execute(
            f"SELECT {_SUMMARY} FROM executions WHERE function_id = %s"
            " AND (created_at, id) < (%s, %s) ORDER BY created_at DESC, id DESC LIMIT %s",
            (function_id, before.created_at, before.id, limit),
        )
    return cur.fetchall()


def fail_stale_executions(conn: psycopg.Connection, margin_ms: int) -> int:
    """Fail executions left RUNNING past their function's timeout plus a margin."""
    cur = conn.execute(
        "UPDATE executions e SET status = 'FAILED', completed_at = now(),"
        " error_message = 'platform error: the execution was lost (runner or gateway failed)'"
        " FROM functions f WHERE e.function_id = f.id AND e.status = 'RUNNING'"
        " AND e.started_at < now() - make_interval(secs => (f.timeout_ms + %s) / 1000.0)",
        (margin_ms,),
    )
    return cur.rowcount
