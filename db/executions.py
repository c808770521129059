"""Every statement on the executions table."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from common.contracts import EXECUTIONS_QUEUE, ExecutionStatus
from common.errors import ConcurrencyLimited
from common.notifications import QUEUED_CHANNEL
from common.queue import Delivery
from db.pages import fetch_page
from db.records import ExecutionRecord, ExecutionSummary, PageCursor
from db.targets import (
    ROUTE_TARGET_CTES,
    TARGET_COLUMNS,
    TARGET_CTES,
    TARGET_WIDTH,
    RevisionChoice,
    Target,
    choice_kind,
    function_lookup,
    named_target_cte,
    resolve_params,
    route_bucket,
)

_RETURNING = f"RETURNING {ExecutionRecord.COLUMNS}"

# limits.concurrency (functions.concurrency): a statement that starts an execution of a
# limited function runs after `_LOCK_LIMITED` in its transaction, so it counts the
# RUNNING executions with every earlier start committed — under READ COMMITTED each
# statement sees what was committed when it began, and the lock makes the starts of one
# function take turns. Unlimited functions take no lock: their start is one statement
# on its own (`_START`), which starts nothing for a limited function and says so
# (`needs_lock`); only then does the locked start (`_START_LOCKED`) follow.
_LOCK_CLASS = 20  # advisory lock namespace: per-function execution starts
# It also turns synchronous_commit off for its transaction (see `_START`): a RUNNING row
# or a claim needs no WAL flush of its own, and one statement is cheaper than two.
_LOCK_LIMITED = {
    by: "SELECT set_config('synchronous_commit', 'off', true),"
    " (SELECT pg_advisory_xact_lock(%(lock_class)s, hashtext(id::text)) FROM functions"
    f" WHERE id = {function_lookup(by)} AND concurrency IS NOT NULL)"
    for by in ("id", "route")
}


def _at_limit(function_id: str) -> str:
    """SQL: the function has a concurrency limit and that many executions RUNNING."""
    return _limited(
        function_id,
        " AND lim.concurrency <= (SELECT count(*) FROM executions running"
        " WHERE running.function_id = lim.id AND running.status = 'RUNNING')",
    )


def _limited(function_id: str, condition: str = "") -> str:
    """SQL: the function has a concurrency limit (and `condition` holds)."""
    return (
        f"EXISTS (SELECT 1 FROM functions lim WHERE lim.id = {function_id}"
        f" AND lim.concurrency IS NOT NULL{condition})"
    )


def _start_statement(target_cte: str, *, locked: bool) -> str:
    """The start of an execution. `locked`: after `_LOCK_LIMITED`, in a transaction
    whose synchronous_commit is off. Otherwise one statement of its own that starts
    only an unlimited function's execution, turns synchronous_commit off for its own
    transaction, and says whether the locked start must follow (`needs_lock`)."""
    # `authorized` gates a route call: a function that is not `public` runs only for a
    # caller with an API key (SPEC §11); every other start passes true.
    limit = _at_limit("target.function_id") if locked else _limited("target.function_id")
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
            conn.execute(_LOCK_LIMITED[by], {**params, "lock_class": _LOCK_CLASS})
            cursor = conn.execute(_START_LOCKED[by][kind], params)
        row = cursor.fetchone()
    if row is None:
        return None
    target = Target.from_row(row)
    started, created, public, route, at_limit = row[TARGET_WIDTH : TARGET_WIDTH + 5]
    if at_limit:
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


SYNCHRONOUS_TRIGGERS = "('http', 'route')"  # run by a gateway; every other, by the queue


def fail_stale_executions(conn: psycopg.Connection, margin_ms: int) -> int:
    """Fail executions left RUNNING past their function's timeout plus a margin."""
    cur = conn.execute(
        "UPDATE executions e SET status = 'FAILED', completed_at = now(),"
        " error_message = 'platform error: the execution was lost (runner or gateway failed)'"
        " FROM functions f JOIN revisions r ON r.function_id = f.id"
        " WHERE e.function_id = f.id AND r.revision = COALESCE(e.revision, f.revision)"
        f" AND e.status = 'RUNNING' AND e.trigger IN {SYNCHRONOUS_TRIGGERS}"  # the queue: the rest
        " AND e.started_at < now() - make_interval(secs => (r.timeout_ms + %s) / 1000.0)",
        (margin_ms,),
    )
    return cur.rowcount


# --- Asynchronous executions (SPEC §10) -------------------------------------------------
#
# An asynchronous execution is a PENDING row plus a message on the pgmq queue
# `executions`, written by one statement (so by one transaction). A worker claims it by a
# conditional update that bumps `attempts`; every later write of that attempt is fenced on
# (status RUNNING, attempts = its attempt), and moves the message (delete, archive, delay)
# in the same transaction — so however often a message is delivered, one attempt at a
# time can record, and a finished execution's message is only ever deleted.

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


# The message names the execution's own function and revision, and the execution is
# one the queue runs (not a synchronous call's, which its gateway runs): a message sent
# by hand on the queue can neither run other code for an execution nor take over one.
_ITS_MESSAGE = (
    f"e.function_id = target.function_id AND e.revision = target.revision"
    f" AND e.trigger NOT IN {SYNCHRONOUS_TRIGGERS}"
)
# A retry starts only after its backoff (release_attempt), whatever message names it.
_RETRY_DUE = "(e.retry_at IS NULL OR e.retry_at <= clock_timestamp())"


def _claimed_cte(execution_id: str, limit: str) -> str:
    """The CTE `claimed`: the claim of an attempt at the execution `execution_id`, of
    the function `target` names, if `limit` holds."""
    return f"""claimed AS (
    UPDATE executions e SET status = 'RUNNING', attempts = e.attempts + 1,
        started_at = clock_timestamp()  -- after the limit's lock, when there is one
    FROM functions f, target
    WHERE e.id = {execution_id} AND f.id = e.function_id AND e.attempts < f.retry_max_attempts
      AND {_ITS_MESSAGE}
      AND ((e.status = 'PENDING' AND {_RETRY_DUE}) OR (e.status = 'RUNNING'
           AND e.started_at < now() - make_interval(secs => target.timeout_ms / 1000.0
                                                     + %(margin)s)))
      AND {limit}
    RETURNING e.attempts, f.retry_max_attempts, f.retry_backoff_ms, e.input::text,
              e.started_at, e.created_at  -- the input as text: the runner reads it
)"""


# The claim of an attempt after `_LOCK_LIMITED`, in the caller's transaction, for any
# function: a PENDING execution is claimed only below the function's limit.
_CLAIM = f"""
WITH {TARGET_CTES["revision"]},
{_claimed_cte("%(id)s", f"(e.status = 'RUNNING' OR NOT {_at_limit('f.id')})")}
SELECT {TARGET_COLUMNS}, claimed.* FROM target JOIN claimed ON true
"""

# The ids a message names, or NULL where one is not of their form (a bad message is
# taken and archived by the invoker, never an error that leaves it on the queue).
_UUID_FORM = "^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
_NAMED = {
    "execution_id": ("executionId", _UUID_FORM, "uuid"),
    "function_id": ("functionId", _UUID_FORM, "uuid"),
    "revision": ("revision", "^[0-9]{1,9}$", "integer"),
}


def _named(name: str, message: str = "message") -> str:
    """SQL: the id `name` (_NAMED) of the message `message`, or NULL."""
    key, form, kind = _NAMED[name]
    return f"CASE WHEN {message}->>'{key}' ~ '{form}' THEN ({message}->>'{key}')::{kind} END"


_NAMED_COLUMNS = ",\n           ".join(f"{_named(name)} AS {name}" for name in _NAMED)

# The invoker's read (SPEC §10), in one statement that makes no WAL flush of its own:
# pgmq's read of the first visible message of `executions` (hidden for `vt` seconds,
# read_ct + 1) with a look at whether a second one is visible — the first two are locked,
# SKIP LOCKED, so concurrent readers take others — and, when the message's execution is
# an unlimited function's and can run now, its claim, with the message hidden for the
# attempt's lease (the timeout plus the margin) instead. A limited function's execution
# is never claimed here: `claim_execution`, in its transaction, decides. A read or claim
# lost in a crash only shows the message again early; the claim is fenced.
_TAKE = f"""
WITH visible AS (
    SELECT msg_id, message FROM pgmq.q_{EXECUTIONS_QUEUE}
    WHERE vt <= clock_timestamp()
    ORDER BY msg_id LIMIT 2
    FOR UPDATE SKIP LOCKED
), named AS (
    SELECT msg_id, {_NAMED_COLUMNS}
    FROM visible ORDER BY msg_id LIMIT 1
), {named_target_cte("named")},
{_claimed_cte("(SELECT execution_id FROM named)", "f.concurrency IS NULL")},
taken AS (
    UPDATE pgmq.q_{EXECUTIONS_QUEUE} m
    SET vt = clock_timestamp() + make_interval(secs => CASE
            WHEN EXISTS (SELECT FROM claimed)
            THEN (SELECT coalesce(timeout_ms, 0) FROM target) / 1000.0 + %(margin)s
            ELSE %(vt)s::float8 END),
        read_ct = m.read_ct + 1,
        last_read_at = clock_timestamp()
    FROM named WHERE m.msg_id = named.msg_id
    RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.message::text  -- read in Python
)
SELECT taken.*, (SELECT count(*) FROM visible) > 1, (SELECT execution_id FROM named),
       set_config('synchronous_commit', 'off', true),  -- for this statement's own commit
       {TARGET_COLUMNS}, claimed.*
FROM taken LEFT JOIN target ON true LEFT JOIN claimed ON true
"""


@dataclasses.dataclass(frozen=True)
class Claim:
    """One attempt at an asynchronous execution, owned by the worker that claimed it."""

    target: Target
    running: ExecutionRecord
    input_json: str
    max_attempts: int
    backoff_ms: int

    @property
    def attempt(self) -> int:
        return self.running.attempts


def claim_execution(
    conn: psycopg.Connection,
    execution_id: UUID,
    function_id: UUID,
    revision: int,
    *,
    margin_seconds: float,
) -> Claim | None:
    """PENDING → RUNNING with attempts + 1, if attempts remain; also RUNNING whose
    attempt's lease (the timeout plus `margin_seconds`) ran out: that attempt was lost.
    None: nothing to run now (finished, gone, running, out of attempts, or the function's
    concurrency limit reached: `at_concurrency_limit`). Inside the caller's transaction
    (the lock that makes concurrent starts of a limited function take turns)."""
    params = _claim_params(execution_id, function_id, revision, margin_seconds)
    # The claim needs no WAL flush of its own (like an execution's RUNNING row): lost in
    # a crash, the message comes back after its visibility timeout and the execution is
    # claimed again; the synchronous commit that records the outcome flushes the WAL up
    # to it first (`_LOCK_LIMITED` turns it off). Pipelined, both cost one round trip.
    with conn.pipeline():
        conn.execute(_LOCK_LIMITED["id"], {**params, "lock_class": _LOCK_CLASS})
        cursor = conn.execute(_CLAIM, params)
    return _claim(cursor.fetchone(), execution_id, function_id, revision)


@dataclasses.dataclass(frozen=True)
class Taken:
    """The invoker's read of the queue `executions` (`take`)."""

    delivery: Delivery
    more: bool  # another message is visible now: worth waking another slot for
    claim: Claim | None  # the message's execution, claimed (an unlimited function's)


def take(conn: psycopg.Connection, *, vt: int, margin_seconds: float) -> Taken | None:
    """The first visible message of `executions`, hidden for `vt` seconds — and, when
    it can, the claim of its execution (`_TAKE`); None when no message is visible. One
    statement of its own (autocommit): no transaction around it."""
    row = conn.execute(_TAKE, {"vt": vt, "margin": margin_seconds}).fetchone()
    if row is None:
        return None
    msg_id, read_ct, enqueued_at, message, more, execution_id, _ = row[:7]
    delivery = Delivery(msg_id, read_ct, _payload(message), enqueued_at)
    rest = row[7:]
    if rest[TARGET_WIDTH] is None:  # nothing claimed
        return Taken(delivery, more, None)
    target = Target.from_row(rest)
    claim = _claim(rest, execution_id, target.function_id, target.revision)
    return Taken(delivery, more, claim)


def _payload(text: str) -> Any:
    """A message's body, or None when Python's JSON cannot read what jsonb holds (an
    integer of over 4,300 digits, nesting past the recursion limit): a message the
    platform never sends, which the invoker archives — it must not fail the read after
    the read has committed, and come back for ever."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _claim_params(
    execution_id: UUID, function_id: UUID, revision: int, margin_seconds: float
) -> dict:
    return {
        "id": execution_id,
        "function_id": function_id,
        "revision": revision,
        "bucket": 0,
        "margin": margin_seconds,
    }


def _claim(row: tuple | None, execution_id: UUID, function_id: UUID, revision: int) -> Claim | None:
    if row is None:
        return None
    target = Target.from_row(row)
    rest = row[TARGET_WIDTH : TARGET_WIDTH + 6]
    attempts, max_attempts, backoff_ms, input_json, started, created = rest
    running = ExecutionRecord(
        id=execution_id,
        function_id=function_id,
        revision=revision,
        status=ExecutionStatus.RUNNING,
        input=None,  # never decoded here: the runner reads `input_json`
        output=None,
        error_message=None,
        duration_ms=None,
        fuel_used=None,
        started_at=started,
        completed_at=None,
        created_at=created,
        trigger="async",
        attempts=attempts,
    )
    return Claim(target, running, input_json, max_attempts, backoff_ms)


def at_concurrency_limit(conn: psycopg.Connection, function_id: UUID) -> bool:
    """Whether the function has a concurrency limit and that many executions RUNNING."""
    return conn.execute(f"SELECT {_at_limit('%s')}", (function_id,)).fetchone()[0]


@dataclasses.dataclass(frozen=True)
class AttemptState:
    status: ExecutionStatus
    attempts: int
    max_attempts: int
    lease_expired: bool  # RUNNING past its timeout plus the margin: the attempt was lost
    lease_seconds: float  # the revision's timeout plus the margin
    its_message: bool  # the message named its function and revision; the queue runs it
    retry_in: float  # seconds until a retry's backoff ends (0: none, or it has ended)


def execution_state(
    conn: psycopg.Connection,
    execution_id: UUID,
    function_id: UUID,
    revision: int,
    *,
    margin_seconds: float,
) -> AttemptState | None:
    """Where an execution that could not be claimed stands, for a message that named it
    with `function_id` and `revision`; None if it is gone."""
    row = conn.execute(
        "SELECT e.status, e.attempts, f.retry_max_attempts,"
        " e.status = 'RUNNING' AND e.started_at < now()"
        "   - make_interval(secs => r.timeout_ms / 1000.0 + %(margin)s),"
        " r.timeout_ms / 1000.0 + %(margin)s,"
        " e.function_id = %(function_id)s AND e.revision = %(revision)s"
        f"   AND e.trigger NOT IN {SYNCHRONOUS_TRIGGERS},"
        " greatest(extract(epoch FROM e.retry_at - clock_timestamp()), 0)::float8"
        " FROM executions e JOIN functions f ON f.id = e.function_id"
        " JOIN revisions r ON r.function_id = e.function_id AND r.revision = e.revision"
        " WHERE e.id = %(id)s",
        {
            "margin": margin_seconds,
            "function_id": function_id,
            "revision": revision,
            "id": execution_id,
        },
    ).fetchone()
    if row is None:
        return None
    status, attempts, max_attempts, expired, lease, its_message, retry_in = row
    return AttemptState(
        ExecutionStatus(status),
        attempts,
        max_attempts,
        bool(expired),
        float(lease),
        bool(its_message),
        retry_in or 0.0,
    )


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


def _wake(function_id: str) -> str:
    """SQL: if the function `function_id` has limits.concurrency, the oldest of its
    executions that the limit deferred becomes visible now (its slot was freed) — a
    retry only once its backoff is over. The queue is walked in message order and each
    message's execution looked up by its key (`_waiting`): never a join the planner
    may turn around (with the statistics of a queue that just grew by thousands, it
    scanned the queue once per execution of the function: 26 s a statement)."""
    return f"""
    UPDATE pgmq.q_{EXECUTIONS_QUEUE} m SET vt = clock_timestamp()
    WHERE m.msg_id = (
        SELECT w.msg_id FROM pgmq.q_{EXECUTIONS_QUEUE} w
        WHERE EXISTS (
            SELECT FROM functions f WHERE f.id = {function_id} AND f.concurrency IS NOT NULL)
          AND {_named("function_id", "w.message")} = {function_id}
          AND w.vt > clock_timestamp() AND {_waiting("w.message", function_id)}
        ORDER BY w.msg_id LIMIT 1
        FOR UPDATE OF w SKIP LOCKED)
"""


def _waiting(message: str, function_id: str) -> str:
    """SQL: the execution `message` names is PENDING, of `function_id`, and due (a
    retry's backoff over). A scalar subquery, one primary-key lookup per message."""
    return f"""coalesce((
            SELECT e.status = 'PENDING' AND {_RETRY_DUE} FROM executions e
            WHERE e.id = {_named("execution_id", message)} AND e.function_id = {function_id}
          ), false)"""


_WAKE = _wake("%(function_id)s::uuid")
_WAKE_EVERY = f"""
UPDATE pgmq.q_{EXECUTIONS_QUEUE} m SET vt = clock_timestamp()
WHERE {_named("function_id", "m.message")} = %(function_id)s
  AND m.vt > clock_timestamp() AND {_waiting("m.message", "%(function_id)s")}
"""


def wake_deferred(conn: psycopg.Connection, function_id: UUID, *, every: bool = False) -> None:
    """`_wake` on its own: a dead letter or a retry freed a limited function's slot (the
    invoker's slot that freed it reads the queue next). `every`: all of the function's
    waiting executions look again now (its limit was raised or lifted, by a gateway),
    and the idle invokers are told so, as for a new message."""
    woken = conn.execute(_WAKE_EVERY if every else _WAKE, {"function_id": function_id})
    if every and woken.rowcount:
        conn.execute("SELECT pg_notify(%s, '')", (QUEUED_CHANNEL,))


# A function at its limit: its other visible messages wait too, in one statement, so a
# backlog of thousands is not read (and deferred) one by one ahead of other functions'
# work. Only those visible since before `message` was read: one made visible since —
# by a slot that freed (`_wake`) — is left for the next read.
_DEFER_VISIBLE = f"""
UPDATE pgmq.q_{EXECUTIONS_QUEUE} m
SET vt = clock_timestamp() + make_interval(secs => %(seconds)s)
WHERE m.vt <= (SELECT last_read_at FROM pgmq.q_{EXECUTIONS_QUEUE} WHERE msg_id = %(message)s)
  AND {_named("function_id", "m.message")} = %(function_id)s
"""


def defer_visible(conn: psycopg.Connection, function_id: UUID, message: int, seconds: float) -> int:
    """Hide the function's messages visible since before `message` was read for
    `seconds` (`_DEFER_VISIBLE`); how many."""
    params = {"function_id": function_id, "message": message, "seconds": seconds}
    return conn.execute(_DEFER_VISIBLE, params).rowcount


_FINISH_UPDATE = (
    "UPDATE executions SET status = %s, output = %s::jsonb, error_message = %s,"
    " duration_ms = %s, fuel_used = %s, logs = %s, dead_lettered = %s,"
    " completed_at = now() WHERE id = %s AND status = 'RUNNING' AND attempts = %s"
)
_FINISH = f"{_FINISH_UPDATE} RETURNING completed_at"
# An asynchronous attempt's outcome: its message is deleted (pgmq.delete's statement,
# written out) and, when the function has limits.concurrency, the slot it frees goes at
# once to the oldest execution that the limit deferred (`woken`, `_wake`) instead of
# waiting for that message's next look: limited functions' queued executions run back
# to back. A deferred retry keeps its own time (its backoff may still run).
_FINISH_DELETING_MESSAGE = f"""
WITH finished AS ({_FINISH_UPDATE} RETURNING completed_at, function_id), settled AS (
    DELETE FROM pgmq.q_{EXECUTIONS_QUEUE} WHERE msg_id = %s AND EXISTS (SELECT FROM finished)
), woken AS ({_wake("(SELECT function_id FROM finished)")})
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
    row was updated: an asynchronous attempt settled in one round trip."""
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


_FINISH_MANY = """
UPDATE executions e SET status = v.status::execution_status, output = v.output::jsonb,
    error_message = v.error, duration_ms = v.duration, fuel_used = v.fuel, logs = v.logs,
    completed_at = now()
FROM unnest(%s::uuid[], %s::integer[], %s::text[], %s::text[], %s::text[],
            %s::double precision[], %s::bigint[], %s::text[])
     AS v(id, attempts, status, output, error, duration, fuel, logs)
WHERE e.id = v.id AND e.status = 'RUNNING' AND e.attempts = v.attempts
RETURNING e.id, e.completed_at
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


def release_attempt(
    conn: psycopg.Connection, execution_id: UUID, attempt: int, delay_seconds: float
) -> bool:
    """RUNNING → PENDING after a retryable failure of `attempt` (fenced on it), to be
    claimed again only after `delay_seconds` (the backoff)."""
    cur = conn.execute(
        "UPDATE executions SET status = 'PENDING',"
        " retry_at = clock_timestamp() + make_interval(secs => %s)"
        " WHERE id = %s AND status = 'RUNNING' AND attempts = %s",
        (delay_seconds, execution_id, attempt),
    )
    return cur.rowcount == 1


def dead_letter_lost(
    conn: psycopg.Connection, execution_id: UUID, attempts: int, error_message: str
) -> bool:
    """An execution whose last attempt was lost (its worker died): FAILED, dead-lettered."""
    cur = conn.execute(
        "UPDATE executions SET status = 'FAILED', dead_lettered = true, error_message = %s,"
        " completed_at = now() WHERE id = %s AND status IN ('PENDING', 'RUNNING')"
        " AND attempts = %s",
        (error_message, execution_id, attempts),
    )
    return cur.rowcount == 1


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
