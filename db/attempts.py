"""The attempts of asynchronous executions (SPEC §10): the invoker's read of the queue
`executions` that claims what it can (`take`), the locked claim of a limited
function's execution, where an unclaimable one stands, and an attempt's release for a
retry or its dead letter when it was lost.

An asynchronous execution is a PENDING row plus a message on the pgmq queue
`executions`, written by one statement (db/executions.py). A worker claims it by a
conditional update that bumps `attempts`; every later write of that attempt is fenced
on (status RUNNING, attempts = its attempt), and moves the message (delete, archive,
delay) in the same transaction — so however often a message is delivered, one attempt
at a time can record, and a finished execution's message is only ever deleted."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from uuid import UUID

import psycopg

from common.contracts import EXECUTIONS_QUEUE, ExecutionStatus
from common.queue import Delivery
from db.concurrency import LOCK_LIMITED, at_limit
from db.queued import NAMED, RETRY_DUE, its_message, named
from db.records import ExecutionRecord
from db.targets import TARGET_COLUMNS, TARGET_CTES, TARGET_WIDTH, Target, named_target_cte


def _claimed_cte(execution_id: str, limit: str) -> str:
    """The CTE `claimed`: the claim of an attempt at the execution `execution_id`, of
    the function `target` names, if `limit` holds."""
    return f"""claimed AS (
    UPDATE executions e SET status = 'RUNNING', attempts = e.attempts + 1,
        started_at = clock_timestamp()  -- after the limit's lock, when there is one
    FROM functions f, target
    WHERE e.id = {execution_id} AND f.id = e.function_id AND e.attempts < f.retry_max_attempts
      AND {its_message("target.function_id", "target.revision")}
      AND ((e.status = 'PENDING' AND {RETRY_DUE}) OR (e.status = 'RUNNING'
           AND e.started_at < now() - make_interval(secs => target.timeout_ms / 1000.0
                                                     + %(margin)s)))
      AND {limit}
    RETURNING e.attempts, f.retry_max_attempts, f.retry_backoff_ms, e.input::text,
              e.started_at, e.created_at  -- the input as text: the runner reads it
)"""


# The claim of an attempt after `LOCK_LIMITED`, in the caller's transaction, for any
# function: a PENDING execution is claimed only below the function's limit.
_CLAIM = f"""
WITH {TARGET_CTES["revision"]},
{_claimed_cte("%(id)s", f"(e.status = 'RUNNING' OR NOT {at_limit('f.id')})")}
SELECT {TARGET_COLUMNS}, claimed.* FROM target JOIN claimed ON true
"""


_NAMED_COLUMNS = ",\n           ".join(f"{named(name)} AS {name}" for name in NAMED)

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
    # to it first (`LOCK_LIMITED` turns it off). Pipelined, both cost one round trip.
    with conn.pipeline():
        conn.execute(LOCK_LIMITED["id"], params)
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
        f" {its_message('%(function_id)s', '%(revision)s')},"
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
    status, attempts, max_attempts, expired, lease, own_message, retry_in = row
    return AttemptState(
        ExecutionStatus(status),
        attempts,
        max_attempts,
        bool(expired),
        float(lease),
        bool(own_message),
        retry_in or 0.0,
    )


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
