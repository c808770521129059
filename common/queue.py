"""Every pgmq call the platform makes, on the process's own pool.

Delivery is at least once: callers keep their work idempotent (revisions) and
remove a message only once its effect is committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import psycopg_pool
from pgmq import PGMQueue

from common.contracts import (
    EXECUTIONS_QUEUE,
    JOBS_QUEUE,
    RESULTS_QUEUE,
    CompilationJob,
    CompilationResult,
)
from common.db import translate_errors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One read of a queue message: its id, how often it was read, its payload."""

    msg_id: int
    read_ct: int
    payload: dict[str, Any]
    enqueued_at: datetime | None = None


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    length: int
    visible: int
    oldest_age_seconds: float


class CompilationQueues:
    """The two compilation queues, reached through the pgmq client on a shared pool."""

    def __init__(self, db: psycopg_pool.ConnectionPool) -> None:
        self._pgmq = PGMQueue(pool=db, conn_string=None, init_extension=False)

    def publish_job(self, conn: psycopg.Connection, job: CompilationJob) -> int:
        """Send a job inside the caller's transaction (the outbox of the function row)."""
        return self._pgmq.send(JOBS_QUEUE, job.to_json(), conn=conn)

    def publish_result(self, result: CompilationResult) -> int:
        with translate_errors():
            return self._pgmq.send(RESULTS_QUEUE, result.to_json())

    def read_job(self, *, vt: int, poll_seconds: int = 1) -> Delivery | None:
        batch = self._read(JOBS_QUEUE, vt=vt, qty=1, poll_seconds=poll_seconds)
        return batch[0] if batch else None

    def read_results(self, *, vt: int, qty: int, poll_seconds: int = 1) -> list[Delivery]:
        return self._read(RESULTS_QUEUE, vt=vt, qty=qty, poll_seconds=poll_seconds)

    def delete_job(self, msg_id: int) -> None:
        with translate_errors():
            self._pgmq.delete(JOBS_QUEUE, msg_id)

    def archive_job(self, msg_id: int) -> None:
        """Move a job to the archive table: the dead letter of a job that keeps failing."""
        with translate_errors():
            self._pgmq.archive(JOBS_QUEUE, msg_id)

    def retry_job(self, msg_id: int) -> None:
        """Make a job visible again at once: its compile was stopped by a platform fault
        (the builder retries it; `read_ct` still counts towards the dead letter)."""
        with translate_errors():
            self._pgmq.set_vt(JOBS_QUEUE, msg_id, 0)

    def delete_result(self, conn: psycopg.Connection, msg_id: int) -> None:
        """Delete a result inside the caller's transaction, so it goes with the update."""
        self._pgmq.delete(RESULTS_QUEUE, msg_id, conn=conn)

    def extend_result(self, msg_id: int, vt: int) -> None:
        """Keep a result invisible for `vt` more seconds (it waits for a runner warm-up)."""
        with translate_errors():
            self._pgmq.set_vt(RESULTS_QUEUE, msg_id, vt)

    def archive_result(self, msg_id: int) -> None:
        with translate_errors():
            self._pgmq.archive(RESULTS_QUEUE, msg_id)

    def depths(self) -> list[QueueDepth]:
        with translate_errors():
            found = []
            for name in (JOBS_QUEUE, RESULTS_QUEUE, EXECUTIONS_QUEUE):
                m = self._pgmq.metrics(name)
                found.append(
                    QueueDepth(
                        queue=name,
                        length=m.queue_length,
                        visible=m.queue_visible_length,
                        oldest_age_seconds=float(m.oldest_msg_age_sec or 0),
                    )
                )
            return found

    def _read(self, queue: str, *, vt: int, qty: int, poll_seconds: int) -> list[Delivery]:
        with translate_errors():
            if poll_seconds > 0:
                messages = self._pgmq.read_with_poll(
                    queue, vt=vt, qty=qty, max_poll_seconds=poll_seconds, poll_interval_ms=20
                )
            else:
                messages = self._pgmq.read_batch(queue, vt=vt, batch_size=qty)
        return [Delivery(m.msg_id, m.read_ct, m.message, m.enqueued_at) for m in messages]


class ExecutionQueue:
    """The queue `executions` of asynchronous invocations (SPEC §10). Messages are sent
    by the statement that inserts the execution (db/executions.py, nil.invoke) and read
    by the statement that also claims it (db/executions.py, take); moving a message
    (delete, archive, delay) happens inside the transaction of the fenced update of its
    execution, so only the attempt that owns the row moves it."""

    def __init__(self, db: psycopg_pool.ConnectionPool) -> None:
        self._db = db
        self._pgmq = PGMQueue(pool=db, conn_string=None, init_extension=False)

    def next_visible_seconds(self) -> float | None:
        """Seconds until the earliest hidden message becomes visible (a retry's backoff,
        a lease); 0 when one is visible now, None when the queue is empty."""
        with translate_errors(), self._db.connection() as conn:
            row = conn.execute(
                f"SELECT extract(epoch FROM min(vt) - clock_timestamp())::float8"
                f" FROM pgmq.q_{EXECUTIONS_QUEUE}"
            ).fetchone()
        return None if row is None or row[0] is None else max(0.0, row[0])

    def delete(self, conn: psycopg.Connection, msg_id: int) -> None:
        """pgmq.delete's statement, written out (it plans format()ted SQL per call)."""
        conn.execute(f"DELETE FROM pgmq.q_{EXECUTIONS_QUEUE} WHERE msg_id = %s", (msg_id,))

    def archive(self, conn: psycopg.Connection, msg_id: int) -> None:
        """The dead letter: kept in pgmq's archive (pruned by retention)."""
        self._pgmq.archive(EXECUTIONS_QUEUE, msg_id, conn=conn)

    @staticmethod
    def hide_for(conn: psycopg.Connection, msg_id: int, seconds: float) -> None:
        """Make the message visible again in `seconds` (millisecond precision; pgmq's
        set_vt takes whole seconds): the visibility timeout of an attempt, or a retry's
        backoff — the worker never sleeps on it."""
        conn.execute(
            f"UPDATE pgmq.q_{EXECUTIONS_QUEUE} SET vt = clock_timestamp()"
            " + make_interval(secs => %s) WHERE msg_id = %s",
            (seconds, msg_id),
        )


ARCHIVED_QUEUES = (JOBS_QUEUE, EXECUTIONS_QUEUE)  # the queues whose messages are archived


def prune_archive(conn: psycopg.Connection, queue: str, days: int, batch: int) -> int:
    """Delete up to `batch` archived messages of `queue` older than `days`."""
    assert queue in ARCHIVED_QUEUES
    return conn.execute(
        f"DELETE FROM pgmq.a_{queue} WHERE msg_id IN (SELECT msg_id FROM pgmq.a_{queue}"
        " WHERE archived_at < now() - make_interval(days => %s)"
        " ORDER BY msg_id LIMIT %s FOR UPDATE SKIP LOCKED)",
        (days, batch),
    ).rowcount
