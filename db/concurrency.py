"""limits.concurrency in SQL (SPEC §10): the lock that makes the starts and claims of
a limited function's executions take turns, whether it is at its limit, and the queue
statements that make its deferred executions wait (`defer_visible`) and look again when
a slot frees (`wake`)."""

from __future__ import annotations

from uuid import UUID

import psycopg

from common.contracts import EXECUTIONS_QUEUE
from common.notifications import QUEUED_CHANNEL
from db.queued import RETRY_DUE, named
from db.targets import function_lookup

# A statement that starts (or claims) an execution of a limited function runs after
# `LOCK_LIMITED` in its transaction, so it counts the RUNNING executions with every
# earlier start committed — under READ COMMITTED each statement sees what was committed
# when it began, and the lock makes the starts of one function take turns. Unlimited
# functions take no lock: their start is one statement on its own (db/executions.py),
# which starts nothing for a limited function and says so (`needs_lock`); only then
# does the locked start follow. The lock also turns synchronous_commit off for its
# transaction: a RUNNING row or a claim needs no WAL flush of its own, and one statement
# is cheaper than two.
_LOCK_CLASS = 20  # advisory lock namespace: per-function execution starts
LOCK_LIMITED = {
    by: "SELECT set_config('synchronous_commit', 'off', true),"
    f" (SELECT pg_advisory_xact_lock({_LOCK_CLASS}, hashtext(id::text)) FROM functions"
    f" WHERE id = {function_lookup(by)} AND concurrency IS NOT NULL)"
    for by in ("id", "route")
}


def at_limit(function_id: str) -> str:
    """SQL: the function has a concurrency limit and that many executions RUNNING."""
    return limited(
        function_id,
        " AND lim.concurrency <= (SELECT count(*) FROM executions running"
        " WHERE running.function_id = lim.id AND running.status = 'RUNNING')",
    )


def limited(function_id: str, condition: str = "") -> str:
    """SQL: the function has a concurrency limit (and `condition` holds)."""
    return (
        f"EXISTS (SELECT 1 FROM functions lim WHERE lim.id = {function_id}"
        f" AND lim.concurrency IS NOT NULL{condition})"
    )


def at_concurrency_limit(conn: psycopg.Connection, function_id: UUID) -> bool:
    """Whether the function has a concurrency limit and that many executions RUNNING."""
    return conn.execute(f"SELECT {at_limit('%s')}", (function_id,)).fetchone()[0]


def wake(freed: str) -> str:
    """SQL: for each slot `freed` names (SQL of rows with a `function_id`, one per
    execution that ended) of a function with limits.concurrency, the oldest of its
    executions that the limit deferred becomes visible now — a retry only once its
    backoff is over — and idle invokers are told (QUEUED_CHANNEL, at commit) when one
    did. The queue is walked in message order and each message's execution looked up by
    its key (`_waiting`), per function: never a join the planner may turn around (with
    the statistics of a queue that just grew by thousands, it scanned the queue once per
    execution of the function: 26 s a statement)."""
    return f"""
    UPDATE pgmq.q_{EXECUTIONS_QUEUE} m SET vt = clock_timestamp()
    WHERE m.msg_id IN (
        SELECT next.msg_id
        FROM (SELECT function_id, count(*) AS slots FROM ({freed}) ended
              GROUP BY function_id) ended
        JOIN functions f ON f.id = ended.function_id AND f.concurrency IS NOT NULL,
        LATERAL (SELECT w.msg_id FROM pgmq.q_{EXECUTIONS_QUEUE} w
                 WHERE {named("function_id", "w.message")} = f.id
                   AND w.vt > clock_timestamp() AND {_waiting("w.message", "f.id")}
                 ORDER BY w.msg_id LIMIT ended.slots
                 FOR UPDATE OF w SKIP LOCKED) next)
    RETURNING pg_notify('{QUEUED_CHANNEL}', '')
"""


def _waiting(message: str, function_id: str) -> str:
    """SQL: the execution `message` names is PENDING, of `function_id`, and due (a
    retry's backoff over). A scalar subquery, one primary-key lookup per message."""
    return f"""coalesce((
            SELECT e.status = 'PENDING' AND {RETRY_DUE} FROM executions e
            WHERE e.id = {named("execution_id", message)} AND e.function_id = {function_id}
          ), false)"""


_WAKE = wake("SELECT %(function_id)s::uuid AS function_id")
_WAKE_EVERY = f"""
UPDATE pgmq.q_{EXECUTIONS_QUEUE} m SET vt = clock_timestamp()
WHERE {named("function_id", "m.message")} = %(function_id)s
  AND m.vt > clock_timestamp() AND {_waiting("m.message", "%(function_id)s")}
RETURNING pg_notify('{QUEUED_CHANNEL}', '')
"""


def wake_deferred(conn: psycopg.Connection, function_id: UUID, *, every: bool = False) -> None:
    """`wake` on its own: a retry or a lost attempt freed a limited function's slot (an
    outcome's statement wakes by itself, db/outcomes.py). `every`: all of the function's
    waiting executions look again now (its limit was raised or lifted, by a gateway).
    Either way idle invokers are told, as for a new message."""
    conn.execute(_WAKE_EVERY if every else _WAKE, {"function_id": function_id})


# A function at its limit: its other visible messages wait too, in one statement, so a
# backlog of thousands is not read (and deferred) one by one ahead of other functions'
# work. Only those visible since before `message` was read: one made visible since —
# by a slot that freed (`wake`) — is left for the next read.
_DEFER_VISIBLE = f"""
UPDATE pgmq.q_{EXECUTIONS_QUEUE} m
SET vt = clock_timestamp() + make_interval(secs => %(seconds)s)
WHERE m.vt <= (SELECT last_read_at FROM pgmq.q_{EXECUTIONS_QUEUE} WHERE msg_id = %(message)s)
  AND {named("function_id", "m.message")} = %(function_id)s
"""


def defer_visible(conn: psycopg.Connection, function_id: UUID, message: int, seconds: float) -> int:
    """Hide the function's messages visible since before `message` was read for
    `seconds` (`_DEFER_VISIBLE`); how many."""
    params = {"function_id": function_id, "message": message, "seconds": seconds}
    return conn.execute(_DEFER_VISIBLE, params).rowcount
