"""The statements on the executions table that start and read executions: a
synchronous start (`start_execution`), an asynchronous one (`enqueue_execution`),
reads and pages, idempotency keys, and the clean-ups. An attempt's claim is in
db/attempts.py, its outcome in db/outcomes.py, the concurrency limit's SQL in
db/concurrency.py."""

from __future__ import annotations

import dataclasses
import json
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from common.contracts import ExecutionStatus
from common.errors import ConcurrencyLimited
from db.concurrency import LOCK_LIMITED, at_limit, limited, wake
from db.pages import fetch_page
from db.queued import SYNCHRONOUS_TRIGGERS
from db.records import ExecutionRecord, ExecutionSummary, PageCursor
from db.targets import (
    ROUTE_TARGET_CTES,
    TARGET_COLUMNS,
    TARGET_CTES,
    TARGET_WIDTH,
    RevisionChoice,
    Target,
    choice_kind,
    resolve_params,
    route_bucket,
)


def _start_statement(target_cte: str, *, locked: bool) -> str:
    """The start of an execution. `locked`: after `LOCK_LIMITED` (db/concurrency.py),
    in a transaction whose synchronous_commit is off. Otherwise one statement of its own that starts
    only an unlimited function's execution, turns synchronous_commit off for its own
    transaction, and says whether the locked start must follow (`needs_lock`)."""
    # `authorized` gates a route call: a function that is not `public` runs only for a
    # caller with an API key (SPEC §11); every other start passes true.
    limit = at_limit("target.function_id") if locked else limited("target.function_id")
    if locked:  # at the limit: 429, unless the key is held (a repeat needs no slot)
        tail = (
            "started.started_at IS NULL AND (target.public OR %(authorized)s)"
            f" AND {limit} AND NOT EXISTS (SELECT 1 FROM executions held"
            " WHERE held.function_id = target.function_id"
            " AND held.idempotency_key = %(key)s), false, NULL"
        )
    else:  # set_config's is_local: this statement's own transaction, then back to on
        tail = (
            f"false, started.started_at IS NULL AND {limit},"
            " set_config('synchronous_commit', 'off', true)"
        )
    return f"""
WITH {target_cte}, started AS (
    INSERT INTO executions (id, function_id, revision, status, input, started_at, choice,
                            idempotency_key, idempotency_fingerprint, trigger)
    SELECT %(id)s, target.function_id, target.revision, 'RUNNING', %(input)s::jsonb,
           clock_timestamp(),  -- after the limit's lock was taken, not when it was awaited
           %(choice)s::jsonb, %(key)s, %(fingerprint)s, %(trigger)s
    FROM target WHERE target.status = 'READY' AND target.artifact_sha256 IS NOT NULL
      AND (target.public OR %(authorized)s)
      AND NOT {limit}
    ON CONFLICT (function_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING started_at, created_at
)
SELECT {TARGET_COLUMNS}, started.started_at, started.created_at, target.public, target.route,
       {tail}
FROM target LEFT JOIN started ON true
"""


def _starts(ctes: dict[str, str], *, locked: bool) -> dict[str, str]:
    return {kind: _start_statement(cte, locked=locked) for kind, cte in ctes.items()}


_START = {
    "id": _starts(TARGET_CTES, locked=False),
    "route": _starts(ROUTE_TARGET_CTES, locked=False),
}
_START_LOCKED = {
    "id": _starts(TARGET_CTES, locked=True),
    "route": _starts(ROUTE_TARGET_CTES, locked=True),
}


@dataclasses.dataclass(frozen=True)
class Started:
    """What a start statement found: the target, its function's route and whether it
    is public, and the RUNNING execution (None when nothing was started)."""

    target: Target
    running: ExecutionRecord | None
    public: bool = False
    route: str | None = None


def start_execution(
    conn: psycopg.Connection,
    function_id: UUID,
    choice: RevisionChoice,
    *,
    execution_id: UUID,
    input_value: dict,
    input_json: str,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    routes: list[str] | None = None,
    authorized: bool = True,
) -> Started | None:
    """In one statement: resolve `choice` to a revision (db/targets.py) and, if that
    revision can run, insert its execution as RUNNING — unless the function's
    concurrency limit is reached (ConcurrencyLimited). The function is `function_id`,
    or with `routes` (the prefixes of a /fn/ request path) the one whose route is the
    longest of them — a route call (`trigger: route`) that runs only if `authorized` or
    the function is public. None when no function matches; no record when the choice
    resolved to nothing runnable, when not authorized (or, with a runnable target,
    when `idempotency_key` is held: find_by_idempotency_key)."""
    # The RUNNING row needs no WAL flush of its own: the synchronous commit that records
    # the outcome flushes the WAL up to it before any client sees a 200. An unlimited
    # function's start is one statement (a pipelined transaction costs this process
    # ~4x the CPU of a lone statement); a limited one's is the locked transaction after
    # it, pipelined: one more round trip.
    params = {
        **resolve_params(function_id, choice, route_bucket(execution_id), routes),
        "id": execution_id,
        "input": input_json,
        "choice": json.dumps(choice.to_json()),
        "key": idempotency_key,
        "fingerprint": fingerprint,
        "trigger": "route" if routes is not None else "http",
        "authorized": authorized,
    }
    by, kind = "route" if routes is not None else "id", choice_kind(choice)
    row = conn.execute(_START[by][kind], params).fetchone()
    if row is not None and row[TARGET_WIDTH + 5]:  # needs_lock: a limited function
        with conn.pipeline(), conn.transaction():
            conn.execute(LOCK_LIMITED[by], params)
            cursor = conn.execute(_START_LOCKED[by][kind], params)
        row = cursor.fetchone()
    if row is None:
        return None
    target = Target.from_row(row)
    started, created, public, route, limit_reached = row[TARGET_WIDTH : TARGET_WIDTH + 5]
    if limit_reached:
        raise ConcurrencyLimited()
    if started is None:
        return Started(target, None, public, route)
    record = ExecutionRecord.unfinished(
        execution_id,
        target.function_id,
        target.revision,
        ExecutionStatus.RUNNING,
        input_value,
        created,
        started_at=started,
        trigger=params["trigger"],
    )
    return Started(target, record, public, route)


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
    conn: psycopg.Connection,
    function_id: UUID,
    *,
    limit: int,
    before: PageCursor | None,
    status: ExecutionStatus | None = None,
    dead_lettered: bool | None = None,
) -> list[ExecutionSummary]:
    """Newest first, served by the (function_id, created_at, id) index (dead letters by
    their partial index), optionally only of one status and/or dead-lettered or not."""
    where, params = "function_id = %s", [function_id]
    if status is not None:
        where += " AND status = %s"
        params.append(status)
    if dead_lettered is not None:
        where += " AND dead_lettered" if dead_lettered else " AND NOT dead_lettered"
    return fetch_page(
        conn,
        ExecutionSummary,
        "executions",
        where=where,
        params=tuple(params),
        limit=limit,
        before=before,
    )


# A lost synchronous call is failed, and the slot it held goes to the oldest execution
# its function's concurrency limit deferred (db/concurrency.py, `wake`), as an outcome's.
_FAIL_STALE = f"""
WITH finished AS (
    UPDATE executions e SET status = 'FAILED', completed_at = now(),
        error_message = 'platform error: the execution was lost (runner or gateway failed)'
    FROM functions f JOIN revisions r ON r.function_id = f.id
    WHERE e.function_id = f.id AND r.revision = COALESCE(e.revision, f.revision)
      AND e.status = 'RUNNING' AND e.trigger IN {SYNCHRONOUS_TRIGGERS}  -- the queue: the rest
      AND e.started_at < now() - make_interval(secs => (r.timeout_ms + %s) / 1000.0)
    RETURNING e.function_id
), woken AS ({wake("SELECT function_id FROM finished")})
SELECT count(*) FROM finished
"""


def fail_stale_executions(conn: psycopg.Connection, margin_ms: int) -> int:
    """Fail executions left RUNNING past their function's timeout plus a margin."""
    return conn.execute(_FAIL_STALE, (margin_ms,)).fetchone()[0]


# --- Asynchronous executions (SPEC §10) -------------------------------------------------
#
# An asynchronous execution is a PENDING row plus a message on the pgmq queue
# `executions`, written by one statement (so by one transaction); db/attempts.py claims
# and settles its attempts.

IDEMPOTENCY_HOURS = 24


def enqueue_statement(target_cte: str, claim: str = "") -> str:
    """`claim`: a CTE `claimed` the insert depends on (a schedule's tick: db/schedules.py)."""
    gate = "AND EXISTS (SELECT FROM claimed)" if claim else ""
    claimed = ", EXISTS (SELECT FROM claimed)" if claim else ""
    return f"""
WITH {claim}{target_cte}, queued AS (
    INSERT INTO executions (id, function_id, revision, status, input, trigger, attempts,
                            choice, idempotency_key, idempotency_fingerprint)
    SELECT %(id)s, target.function_id, target.revision, 'PENDING', %(input)s::jsonb,
           %(trigger)s, 0, %(choice)s::jsonb, %(key)s, %(fingerprint)s
    FROM target WHERE target.status = 'READY' AND target.artifact_sha256 IS NOT NULL {gate}
    ON CONFLICT (function_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING function_id, revision, created_at
), sent AS (  -- pgmq.send's insert, written out: pgmq.send plans format()ted SQL per call
    INSERT INTO pgmq.q_executions (vt, message)
    SELECT clock_timestamp(), jsonb_build_object(
        'executionId', %(id)s::text, 'functionId', queued.function_id,
        'revision', queued.revision)
    FROM queued
    RETURNING msg_id
)
SELECT {TARGET_COLUMNS}, queued.created_at, (SELECT min(msg_id) FROM sent){claimed}
FROM target LEFT JOIN queued ON true
"""


_ENQUEUE = {kind: enqueue_statement(cte) for kind, cte in TARGET_CTES.items()}


@dataclasses.dataclass(frozen=True)
class Enqueued:
    """What an enqueue did: the target it resolved, and the new PENDING execution, or
    (`existing`) the execution an idempotency key already named."""

    target: Target
    record: ExecutionRecord | None
    existing: ExecutionRecord | None = None
    existing_fingerprint: str | None = None


def enqueue_execution(
    conn: psycopg.Connection,
    function_id: UUID,
    choice: RevisionChoice,
    *,
    execution_id: UUID,
    input_value: dict,
    input_json: str,
    trigger: str = "async",
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> Enqueued | None:
    """Resolve `choice` and, if it can run, insert the PENDING execution and send its
    message — one statement. None when the function does not exist. With a key that an
    execution of the last 24 h holds, nothing is inserted and that execution is returned
    (`existing`); an older holder's key is released first."""
    params = {
        **resolve_params(function_id, choice, route_bucket(execution_id)),
        "id": execution_id,
        "input": input_json,
        "trigger": trigger,
        "choice": json.dumps(choice.to_json()),
        "key": idempotency_key,
        "fingerprint": fingerprint,
    }
    statement = _ENQUEUE[choice_kind(choice)]
    for _ in range(2):
        row = conn.execute(statement, params).fetchone()
        if row is None:
            return None
        target = Target.from_row(row)
        created, _msg_id = row[TARGET_WIDTH:]
        if created is not None:
            record = ExecutionRecord.unfinished(
                execution_id,
                function_id,
                target.revision,
                ExecutionStatus.PENDING,
                input_value,
                created,
                trigger=trigger,
                attempts=0,
            )
            return Enqueued(target, record)
        if idempotency_key is None or not target.runnable:
            return Enqueued(target, None)
        held = find_by_idempotency_key(conn, function_id, idempotency_key)
        if held is not None:
            return Enqueued(target, None, held[0], held[1])
    return Enqueued(target, None)


def find_by_idempotency_key(
    conn: psycopg.Connection, function_id: UUID, key: str
) -> tuple[ExecutionRecord, str | None] | None:
    """The execution holding `key` for the function, with its fingerprint; a holder
    older than 24 h releases the key instead (and None is returned)."""
    conn.execute(
        "UPDATE executions SET idempotency_key = NULL WHERE function_id = %s"
        " AND idempotency_key = %s AND created_at < now() - make_interval(hours => %s)",
        (function_id, key, IDEMPOTENCY_HOURS),
    )
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {ExecutionRecord.COLUMNS}, idempotency_fingerprint FROM executions"
            " WHERE function_id = %s AND idempotency_key = %s",
            (function_id, key),
        )
        .fetchone()
    )
    if row is None:
        return None
    return ExecutionRecord.from_row(row), row["idempotency_fingerprint"]


def retry_source(
    conn: psycopg.Connection, execution_id: UUID
) -> tuple[UUID, dict, RevisionChoice] | None:
    """What POST /executions/{id}/retry starts again: (function, input, revision choice)."""
    row = conn.execute(
        "SELECT function_id, input, choice FROM executions WHERE id = %s", (execution_id,)
    ).fetchone()
    if row is None:
        return None
    return row[0], row[1], RevisionChoice.from_json(row[2] or {})


def delete_old_executions(conn: psycopg.Connection, days: int, batch: int) -> int:
    """Delete up to `batch` finished executions older than `days` (oldest first, by the
    created_at index; rows locked by others are skipped, so nothing waits long)."""
    return conn.execute(
        "DELETE FROM executions WHERE id IN (SELECT id FROM executions"
        " WHERE created_at < now() - make_interval(days => %s)"
        " AND status IN ('COMPLETED', 'FAILED')"
        " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
        (days, batch),
    ).rowcount


def release_expired_keys(conn: psycopg.Connection, batch: int) -> int:
    """Release up to `batch` idempotency keys older than 24 h (SPEC §10)."""
    return conn.execute(
        "UPDATE executions SET idempotency_key = NULL WHERE id IN (SELECT id FROM executions"
        " WHERE idempotency_key IS NOT NULL"
        " AND created_at < now() - make_interval(hours => %s)"
        " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
        (IDEMPOTENCY_HOURS, batch),
    ).rowcount
