"""An execution's outcome: RUNNING → COMPLETED or FAILED, fenced on its attempt — one
at a time (`finish_execution`, which also settles an asynchronous attempt's message) or
the gateway's group commit of many (`finish_executions`)."""

from __future__ import annotations

import dataclasses
import json

import psycopg

from common.contracts import EXECUTIONS_QUEUE, ExecutionStatus
from db.concurrency import wake
from db.records import ExecutionRecord


def storable(text: str | None) -> str | None:
    """`text` as PostgreSQL's text type takes it: NUL, which it refuses, and lone UTF-16
    surrogates, which UTF-8 cannot carry, become U+FFFD. A function's error message or
    logs may hold either (a JavaScript `throw new Error("a\\u0000b")`); refusing them
    would turn the function's own failure into a platform error."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


_FINISH_UPDATE = (
    "UPDATE executions SET status = %s, output = %s::jsonb, error_message = %s,"
    " duration_ms = %s, fuel_used = %s, logs = %s, dead_lettered = %s,"
    " completed_at = now() WHERE id = %s AND status = 'RUNNING' AND attempts = %s"
)
# Every outcome hands its slot on: when the function has limits.concurrency, the oldest
# execution that the limit deferred becomes visible at once (`woken`, db/concurrency.py;
# as many as a group commit ended)
# instead of waiting for that message's next look (up to 30 s), whether the slot was a
# synchronous call's or a queued attempt's: a limited function's queued executions run
# back to back. A deferred retry keeps its own time (its backoff may still run).
_WOKEN = f"woken AS ({wake('SELECT function_id FROM finished')})"
_FINISH = f"""
WITH finished AS ({_FINISH_UPDATE} RETURNING completed_at, function_id), {_WOKEN}
SELECT completed_at FROM finished
"""
# An asynchronous attempt's outcome also deletes its message (pgmq.delete's statement,
# written out).
_FINISH_DELETING_MESSAGE = f"""
WITH finished AS ({_FINISH_UPDATE} RETURNING completed_at, function_id), settled AS (
    DELETE FROM pgmq.q_{EXECUTIONS_QUEUE} WHERE msg_id = %s AND EXISTS (SELECT FROM finished)
), {_WOKEN}
SELECT completed_at FROM finished
"""


def finish_execution(
    conn: psycopg.Connection,
    running: ExecutionRecord,
    *,
    output_json: str | None,
    error_message: str | None,
    duration_ms: float | None,
    fuel_used: int | None,
    logs: str | None = None,
    dead_lettered: bool = False,
    message: int | None = None,
) -> ExecutionRecord | None:
    """RUNNING → COMPLETED (output) or FAILED (error) for the attempt `running` holds, in
    one statement fenced on its attempt number: a late answer cannot overwrite what the
    sweeper or another attempt decided. None when another attempt owns the row or it is
    finished. (A synchronous execution is attempt 1.) With `message`, the attempt's
    message on the queue `executions` is deleted by the same statement, only if the
    row was updated: an asynchronous attempt settled in one round trip. Either way the
    slot it frees goes to the function's oldest deferred execution (`_WOKEN`)."""
    status = ExecutionStatus.FAILED if error_message is not None else ExecutionStatus.COMPLETED
    error_message, logs = storable(error_message), storable(logs)
    values = [
        status,
        output_json,
        error_message,
        duration_ms,
        fuel_used,
        logs,
        dead_lettered,
        running.id,
        running.attempts,
    ]
    statement = _FINISH
    if message is not None:
        statement, values = _FINISH_DELETING_MESSAGE, [*values, message]
    row = conn.execute(statement, values).fetchone()
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
        dead_lettered=dead_lettered,
        output=json.loads(output_json) if output_json is not None else None,
    )


@dataclasses.dataclass(frozen=True)
class Finish:
    """One outcome to record with finish_executions (the arguments of finish_execution)."""

    running: ExecutionRecord
    output_json: str | None
    error_message: str | None
    duration_ms: float | None
    fuel_used: int | None
    logs: str | None = None


def finish(
    conn: psycopg.Connection,
    f: Finish,
    *,
    dead_lettered: bool = False,
    message: int | None = None,
) -> ExecutionRecord | None:
    """finish_execution for the outcome `f`."""
    return finish_execution(
        conn,
        f.running,
        output_json=f.output_json,
        error_message=f.error_message,
        duration_ms=f.duration_ms,
        fuel_used=f.fuel_used,
        logs=f.logs,
        dead_lettered=dead_lettered,
        message=message,
    )


_FINISH_MANY = f"""
WITH finished AS (
UPDATE executions e SET status = v.status::execution_status, output = v.output::jsonb,
    error_message = v.error, duration_ms = v.duration, fuel_used = v.fuel, logs = v.logs,
    completed_at = now()
FROM unnest(%s::uuid[], %s::integer[], %s::text[], %s::text[], %s::text[],
            %s::double precision[], %s::bigint[], %s::text[])
     AS v(id, attempts, status, output, error, duration, fuel, logs)
WHERE e.id = v.id AND e.status = 'RUNNING' AND e.attempts = v.attempts
RETURNING e.id, e.completed_at, e.function_id
), {_WOKEN}
SELECT id, completed_at FROM finished
"""


def finish_executions(
    conn: psycopg.Connection, finishes: list[Finish]
) -> list[ExecutionRecord | None]:
    """finish_execution for many executions in one statement (one commit): what the
    gateway's group commit writes (common/execution.py). Same fence, same results, in
    the order given; a value the database refuses fails the whole statement."""
    columns: list[list] = [[] for _ in range(8)]
    for f in finishes:
        failed = f.error_message is not None
        status = ExecutionStatus.FAILED if failed else ExecutionStatus.COMPLETED
        for column, value in zip(
            columns,
            (
                f.running.id,
                f.running.attempts,
                status.value,
                f.output_json,
                storable(f.error_message),
                f.duration_ms,
                f.fuel_used,
                storable(f.logs),
            ),
            strict=True,
        ):
            column.append(value)
    done = dict(conn.execute(_FINISH_MANY, columns).fetchall())
    records: list[ExecutionRecord | None] = []
    for f in finishes:
        completed = done.get(f.running.id)
        if completed is None:
            records.append(None)
            continue
        failed = f.error_message is not None
        records.append(
            dataclasses.replace(
                f.running,
                status=ExecutionStatus.FAILED if failed else ExecutionStatus.COMPLETED,
                error_message=storable(f.error_message),
                duration_ms=f.duration_ms,
                fuel_used=f.fuel_used,
                logs=storable(f.logs),
                completed_at=completed,
                output=json.loads(f.output_json) if f.output_json is not None else None,
            )
        )
    return records
