"""Idempotency keys (SPEC §10): per function, 24 h, enforced by the unique index on
executions (function_id, idempotency_key) — so across gateway processes and replicas.
A key names one execution of one input and revision choice (its fingerprint): a repeat
returns that execution (a synchronous repeat waits for it to end), a different input or
choice under the same key is a Conflict."""

from __future__ import annotations

import hashlib
import json
import time
from uuid import UUID

import psycopg_pool

from common.contracts import ExecutionStatus
from common.db import connection
from common.errors import Conflict
from common.notifications import ExecutionWatch
from db import executions as repo
from db.records import ExecutionRecord
from db.targets import RevisionChoice, Target

WAIT_MARGIN_SECONDS = 5.0
FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)


def fingerprint(input_json: str, choice: RevisionChoice) -> str:
    """What a key promises: the same input and the same revision choice."""
    canonical = json.dumps(
        {"input": json.loads(input_json), "choice": choice.to_json()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def held_by(
    db: psycopg_pool.ConnectionPool, function_id: UUID, key: str, print_: str
) -> ExecutionRecord | None:
    """The execution holding `key`; None when no execution of the last 24 h does (an
    older one releases it). Raises Conflict for a different input or choice."""
    with connection(db) as conn:
        held = repo.find_by_idempotency_key(conn, function_id, key)
    if held is None:
        return None
    record, held_print = held
    if held_print != print_:
        raise Conflict(
            f"idempotency key {key!r} was used for a different input or revision of this function"
        )
    return record


def repeat(
    db: psycopg_pool.ConnectionPool,
    watch: ExecutionWatch | None,
    target: Target,
    key: str,
    print_: str,
) -> ExecutionRecord | None:
    """A synchronous repeat: the holder once it has ended (waiting at most its timeout
    plus a margin on `watch`); None when the key was free after all, or its holder is
    gone (its function deleted)."""
    record = held_by(db, target.function_id, key, print_)
    if record is None or record.status in FINISHED or watch is None:
        return record
    timeout = (target.limits.timeout_ms / 1000 if target.limits else 0) + WAIT_MARGIN_SECONDS
    return wait_until_ended(db, watch, record, time.monotonic() + timeout)


def wait_until_ended(
    db: psycopg_pool.ConnectionPool,
    watch: ExecutionWatch,
    record: ExecutionRecord,
    deadline: float,
) -> ExecutionRecord | None:
    """`record` read again once it has ended or at `deadline` (a wake-up without an end,
    after the listener reconnected, waits again); None once it is gone (deleted with its
    function, which wakes its waiters too)."""
    while record.status not in FINISHED:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        watch.wait(record.id, remaining)
        with connection(db) as conn:
            found = repo.get_execution(conn, record.id)
        if found is None:
            return None
        record = found
    return record
