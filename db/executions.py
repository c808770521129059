"""Every statement on the executions table."""

from __future__ import annotations

import dataclasses
import json
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from common.contracts import ExecutionStatus
from db.pages import fetch_page
from db.records import ExecutionRecord, ExecutionSummary, PageCursor
from db.targets import (
    TARGET_COLUMNS,
    TARGET_CTES,
    RevisionChoice,
    Target,
    choice_kind,
    resolve_params,
    route_bucket,
)

_RETURNING = f"RETURNING {ExecutionRecord.COLUMNS}"


def _start_statement(target_cte: str) -> str:
    return f"""
WITH {target_cte}, started AS (
    INSERT INTO executions (id, function_id, revision, status, input, started_at)
    SELECT %(id)s, target.function_id, target.revision, 'RUNNING', %(input)s::jsonb, now()
    FROM target WHERE target.status = 'READY' AND target.artifact_sha256 IS NOT NULL
    RETURNING started_at, created_at
)
SELECT {TARGET_COLUMNS}, started.started_at, started.created_at
FROM target LEFT JOIN started ON true
"""


_START = {kind: _start_statement(cte) for kind, cte in TARGET_CTES.items()}


def start_execution(
    conn: psycopg.Connection,
    function_id: UUID,
    choice: RevisionChoice,
    *,
    execution_id: UUID,
    input_value: dict,
    input_json: str,
) -> tuple[Target, ExecutionRecord | None] | None:
    """In one statement: resolve `choice` to a revision (db/targets.py) and, if that
    revision can run, insert its execution as RUNNING. None when the function does not
    exist; no record when the choice resolved to nothing runnable."""
    # The RUNNING row needs no WAL flush of its own: the synchronous commit that records
    # the outcome flushes the WAL up to it before any client sees a 200. Pipelined, the
    # four statements cost one round trip.
    params = {
        **resolve_params(function_id, choice, route_bucket(execution_id)),
        "id": execution_id,
        "input": input_json,
    }
    with conn.pipeline(), conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        cursor = conn.execute(_START[choice_kind(choice)], params)
    row = cursor.fetchone()
    if row is None:
        return None
    target = Target.from_row(row)
    started, created = row[11:]
    if started is None:
        return target, None
    record = ExecutionRecord(
        id=execution_id,
        function_id=function_id,
        revision=target.revision,
        status=ExecutionStatus.RUNNING,
        input=input_value,
        output=None,
        error_message=None,
        duration_ms=None,
        fuel_used=None,
        started_at=started,
        completed_at=None,
        created_at=created,
    )
    return target, record


def finish_execution(
    conn: psycopg.Connection,
    running: ExecutionRecord,
    *,
    output_json: str | None,
    error_message: str | None,
    duration_ms: float | None,
    fuel_used: int | None,
    logs: str | None = None,
) -> ExecutionRecord | None:
    """RUNNING → COMPLETED (output) or FAILED (error), in one statement. Only a RUNNING
    row changes, so a late answer cannot overwrite what the sweeper decided."""
    status = ExecutionStatus.FAILED if error_message is not None else ExecutionStatus.COMPLETED
    row = conn.execute(
        "UPDATE executions SET status = %s, output = %s::jsonb, error_message = %s,"
        " duration_ms = %s, fuel_used = %s, logs = %s, completed_at = now()"
        " WHERE id = %s AND status = 'RUNNING' RETURNING completed_at",
        (status, output_json, error_message, duration_ms, fuel_used, logs, running.id),
    ).fetchone()
    if row is None:
        return None
    return dataclasses.replace(
        running,
        status=status,
        error_message=error_message,
        duration_ms=duration_ms,
        fuel_used=fuel_used,
        logs=logs,
        completed_at=row[0],
        output=json.loads(output_json) if output_json is not None else None,
    )


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


def list_executions(
    conn: psycopg.Connection, function_id: UUID, *, limit: int, before: PageCursor | None
) -> list[ExecutionSummary]:
    """Newest first, served by the (function_id, created_at, id) index."""
    return fetch_page(
        conn,
        ExecutionSummary,
        "executions",
        where="function_id = %s",
        params=(function_id,),
        limit=limit,
        before=before,
    )


def fail_stale_executions(conn: psycopg.Connection, margin_ms: int) -> int:
    """Fail executions left RUNNING past their function's timeout plus a margin."""
    cur = conn.execute(
        "UPDATE executions e SET status = 'FAILED', completed_at = now(),"
        " error_message = 'platform error: the execution was lost (runner or gateway failed)'"
        " FROM functions f JOIN revisions r ON r.function_id = f.id"
        " WHERE e.function_id = f.id AND r.revision = COALESCE(e.revision, f.revision)"
        " AND e.status = 'RUNNING'"
        " AND e.started_at < now() - make_interval(secs => (r.timeout_ms + %s) / 1000.0)",
        (margin_ms,),
    )
    return cur.rowcount
