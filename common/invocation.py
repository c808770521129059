"""Starting an asynchronous execution (SPEC §10): the PENDING row and its message on the
queue `executions`, in one statement. Shared by everything that enqueues (the gateway's
POST /functions/{id}/invocations and retries; schedules and routes next); the invocation
workers (invoker/) run what is enqueued. `nil.invoke` (migration 0007) does the same
from SQL."""

from __future__ import annotations

import logging
import uuid
from uuid import UUID

import psycopg_pool

from common.db import connection
from common.errors import Conflict, NotFound
from common.execution import refusal
from common.idempotency import fingerprint
from common.jsonvalues import compact
from db import executions as repo
from db.records import ExecutionRecord
from db.targets import RevisionChoice

logger = logging.getLogger(__name__)


def enqueue(
    db: psycopg_pool.ConnectionPool,
    function_id: UUID,
    input_value: dict,
    choice: RevisionChoice | None = None,
    *,
    trigger: str = "async",
    idempotency_key: str | None = None,
) -> tuple[ExecutionRecord, bool]:
    """Enqueue one execution of the revision `choice` names (resolved now and recorded)
    and return it with whether it is new: False when `idempotency_key` already named an
    execution of the same input and choice (that one is returned). Raises NotFound,
    FunctionNotReady, Conflict (a pruned revision, or the key reused differently)."""
    choice = choice or RevisionChoice()
    input_json = compact(input_value)
    print_ = fingerprint(input_json, choice) if idempotency_key is not None else None
    with connection(db) as conn:  # one statement (two for a reused key): no BEGIN
        enqueued = repo.enqueue_execution(
            conn,
            function_id,
            choice,
            execution_id=uuid.uuid4(),
            input_value=input_value,
            input_json=input_json,
            trigger=trigger,
            idempotency_key=idempotency_key,
            fingerprint=print_,
        )
    if enqueued is None:
        raise NotFound(f"function {function_id} not found")
    if enqueued.existing is not None:
        if enqueued.existing_fingerprint != print_:
            raise Conflict(
                f"idempotency key {idempotency_key!r} was used for a different input or"
                " revision of this function"
            )
        return enqueued.existing, False
    if enqueued.record is None:
        raise refusal(db, enqueued.target, choice)
    record = enqueued.record
    logger.info(
        "execution.enqueued",
        extra={
            "executionId": str(record.id),
            "functionId": str(function_id),
            "revision": record.revision,
            "trigger": trigger,
        },
    )
    return record, True
