"""The invocation workers' loop: read a message of `executions`, claim its execution,
run it on a runner, record the outcome — or schedule a retry, or dead-letter it.

Exactly one result per execution, however often a message is delivered: the claim is a
conditional update (PENDING → RUNNING, attempts + 1; or RUNNING whose lease — the
revision's timeout plus a margin and the longest runner wait — ran out, i.e. its worker
died), and every later write of the attempt is fenced on (RUNNING, attempts = that
attempt) and moves the message in the same transaction. A message whose execution is
finished or gone is deleted without running; one whose execution another attempt runs
now is hidden until that lease ends.

Retries (SPEC §10): a platform failure (no runner, runner died) or a timeout is retried
while attempts remain, after `backoffMs · 2^(attempt-1)` with equal jitter, by making the
message visible again later (the row back to PENDING) — no worker sleeps on it.
Deterministic failures are final. Out of attempts: FAILED, `deadLettered`, the message
archived.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from uuid import UUID

import psycopg_pool

from common.contracts import ExecuteReply, ExecutionStatus, Outcome
from common.db import connection, transaction
from common.errors import DataRejected, NilError, ServiceUnavailable
from common.execution import outcome_of, run_attempt
from common.lifecycle import StopFlag
from common.notifications import QueueWatch
from common.queue import Delivery, ExecutionQueue
from common.runners import RunnerPool
from common.secrets import Keyring
from db import attempts, concurrency, outcomes
from db.records import ExecutionRecord
from invoker import metrics
from invoker.settings import Settings

logger = logging.getLogger(__name__)

RETRYABLE = {Outcome.PLATFORM_ERROR, Outcome.TIMEOUT}
# A PENDING execution of a function at its limit is looked at again after 1 s, then 2, 4…
# up to 30 s (the message's reads double it): a slot that an asynchronous outcome, dead
# letter or retry frees wakes the oldest one at once anyway (db/executions.py, `_wake`),
# so the looks are for slots freed otherwise (a synchronous call, a raised limit), and
# a backlog of thousands at one function is not read again every second, ahead of every
# other function's work.
CONCURRENCY_RETRY_SECONDS = 1.0
CONCURRENCY_RETRY_MAX_SECONDS = 30.0
IDLE_POLL_SECONDS = 5.0  # an idle slot's fallback read (LISTEN wakes it for a new message)
LOST = "platform error: the execution was lost (its worker stopped) and is out of attempts"


MAX_REVISION = 2**31 - 1  # revisions are PostgreSQL integers


def message_ids(payload: object) -> tuple[UUID, UUID, int]:
    """The execution, function and revision a message names; ValueError, TypeError or
    KeyError when it is not a message the platform sends. Looser than the SQL read's
    (db/queued.py, `named`): what only this accepts goes through the locked claim."""
    if not isinstance(payload, dict):
        raise TypeError("not an object")
    revision = payload["revision"]
    if isinstance(revision, bool) or not isinstance(revision, int | str):
        raise TypeError("revision is not an integer")
    revision = int(revision)
    if not 0 < revision <= MAX_REVISION:
        raise ValueError("revision out of range")
    return UUID(str(payload["executionId"])), UUID(str(payload["functionId"])), revision


def deferral_seconds(read_ct: int) -> float:
    """How long a message read `read_ct` times and refused at a concurrency limit waits
    for its next look (CONCURRENCY_RETRY_SECONDS, doubling)."""
    doublings = min(max(read_ct - 1, 0), 16)
    return min(CONCURRENCY_RETRY_SECONDS * 2**doublings, CONCURRENCY_RETRY_MAX_SECONDS)


def backoff_seconds(backoff_ms: int, attempt: int, rand: random.Random | None = None) -> float:
    """The delay before attempt `attempt + 1`: exponential, with equal jitter (half of
    it fixed, half random) so retries of many executions spread out."""
    delay = backoff_ms * (2 ** (attempt - 1)) / 1000
    return delay / 2 + (rand or random).uniform(0, delay / 2)


class Invoker:
    def __init__(
        self, db: psycopg_pool.ConnectionPool, runners: RunnerPool, settings: Settings
    ) -> None:
        self.db = db
        self.runners = runners
        self.settings = settings
        self.keyring = Keyring.from_settings(settings)
        self.queue = ExecutionQueue(db)
        self.stop_flag = StopFlag()
        self.watch = QueueWatch(db.conninfo)  # the database the pool reads the queue from

    def run(self, *, wait: bool = True) -> int:
        """Run executions in `concurrency` slots until stopped; with wait=False, return
        once no message is visible. Returns the messages handled."""
        counts: list[int] = []

        def slot() -> None:
            counts.append(self._slot(wait))

        threads = [
            threading.Thread(target=slot, name=f"invoke-slot-{n}", daemon=True)
            for n in range(self.settings.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if wait:
            self.watch.stop()
        return sum(counts)

    def _slot(self, wait: bool) -> int:
        handled = 0
        while not self.stop_flag.stopping:
            try:
                mark = self.watch.mark()
                taken = self.take()
                if taken is None:
                    if not wait:
                        return handled
                    self._idle(mark)
                    continue
                if taken.more:  # a burst: the next idle slot reads too
                    self.watch.wake_one()
                self.handle(taken.delivery, taken.claim)
                handled += 1
            except NilError as exc:  # the database is down: the message comes back
                logger.warning("invoker.error", extra={"error": exc.message})
                if not wait:
                    raise
                self.stop_flag.wait(1.0)
            except Exception:  # a bug: logged; the message comes back after its lease
                logger.exception("invoker.failed")
                if not wait:
                    raise
                self.stop_flag.wait(1.0)
        return handled

    def _idle(self, mark: int) -> None:
        """Nothing visible: sleep until a message is sent (the queue's notification),
        the earliest hidden one becomes visible (a retry's backoff, a lost lease), or the
        fallback read is due — in slices, so a stop is seen within a second. Costs the
        database one statement, not a poll every few milliseconds."""
        upcoming = self.queue.next_visible_seconds()
        seconds = IDLE_POLL_SECONDS if upcoming is None else min(upcoming, IDLE_POLL_SECONDS)
        self.watch.start()
        if not self.watch.connected.is_set():  # no notifications: read again soon
            seconds = min(seconds, QueueWatch.DISCONNECTED_POLL_SECONDS)
        deadline = time.monotonic() + seconds
        while not self.stop_flag.stopping and (left := deadline - time.monotonic()) > 0:
            if self.watch.wait(mark, min(left, 1.0)):
                return

    def stop(self) -> None:
        self.stop_flag.stop()
        self.watch.wake_all()

    def take(self) -> attempts.Taken | None:
        """The next visible message, with its execution claimed when that takes no
        lock (an unlimited function's): the common case costs one statement."""
        with connection(self.db) as conn:
            return attempts.take(
                conn,
                vt=self.settings.read_visibility_seconds,
                margin_seconds=self.settings.lease_margin_seconds,
            )

    def handle(self, delivery: Delivery, claim: attempts.Claim | None = None) -> None:
        """Run the message's execution: `claim`, when the read claimed it already;
        otherwise claimed here, in the transaction that takes a limited function's lock."""
        if claim is not None:
            self._run(delivery, claim)
            return
        try:
            eid, fid, revision = message_ids(delivery.payload)
        except (KeyError, TypeError, ValueError) as exc:
            with transaction(self.db) as conn:
                self._archive_bad(conn, delivery, f"not a message of this queue: {exc}")
            return
        margin = self.settings.lease_margin_seconds
        with transaction(self.db) as conn:  # a limited function's, or none to run now
            claim = attempts.claim_execution(conn, eid, fid, revision, margin_seconds=margin)
            if claim is None:
                self._unclaimable(conn, delivery, eid, fid, revision)
                return
            limits = claim.target.limits
            lease = (limits.timeout_ms / 1000 if limits else 0) + margin
            self.queue.hide_for(conn, delivery.msg_id, lease)
        self._run(delivery, claim)

    def _archive_bad(self, conn, delivery: Delivery, reason: str) -> None:
        """A message the platform did not send as it is: kept in the archive, never run."""
        self.queue.archive(conn, delivery.msg_id)
        logger.error("invoker.bad_message", extra={"msgId": delivery.msg_id, "reason": reason})

    def _unclaimable(self, conn, delivery: Delivery, eid: UUID, fid: UUID, revision: int) -> None:
        margin = self.settings.lease_margin_seconds
        state = attempts.execution_state(conn, eid, fid, revision, margin_seconds=margin)
        ids = {"executionId": str(eid), "functionId": str(fid), "msgId": delivery.msg_id}
        if state is None or state.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED):
            self.queue.delete(conn, delivery.msg_id)
            metrics.REDELIVERIES.inc()
            logger.info("execution.redelivery_dropped", extra=ids)
            return
        if not state.its_message:
            reason = "it names another function or revision than its execution's"
            self._archive_bad(conn, delivery, reason)
            return
        out_of_attempts = state.attempts >= state.max_attempts
        if state.status == ExecutionStatus.PENDING and state.retry_in > 0 and not out_of_attempts:
            self.queue.hide_for(conn, delivery.msg_id, state.retry_in)  # a retry's backoff
            return
        if state.status == ExecutionStatus.PENDING and not out_of_attempts:
            # refused at the function's limits.concurrency — or at a limit an outcome
            # committed since the claim has freed: then at once, not after a lease
            if not concurrency.at_concurrency_limit(conn, fid):
                self.queue.hide_for(conn, delivery.msg_id, 0)
                return
            seconds = deferral_seconds(delivery.read_ct)
            self.queue.hide_for(conn, delivery.msg_id, seconds)
            backlog = concurrency.defer_visible(conn, fid, delivery.msg_id, seconds)
            metrics.CONCURRENCY_DEFERRED.inc(1 + backlog)
            logger.info(
                "execution.concurrency_deferred",
                extra={**ids, "delaySeconds": seconds, "backlogDeferred": backlog},
            )
            return
        lost = state.status == ExecutionStatus.PENDING or state.lease_expired
        if out_of_attempts and lost:
            if attempts.dead_letter_lost(conn, eid, state.attempts, LOST):
                self.queue.archive(conn, delivery.msg_id)
                concurrency.wake_deferred(conn, fid)  # a lost RUNNING attempt held a slot
                metrics.DEAD_LETTERS.inc()
                logger.warning("execution.dead_lettered", extra={**ids, "attempts": state.attempts})
            return
        # another attempt runs it now: look again once its lease ends
        self.queue.hide_for(conn, delivery.msg_id, state.lease_seconds)

    def _run(self, delivery: Delivery, claim: attempts.Claim) -> None:
        running = claim.running
        ids = {
            "executionId": str(running.id),
            "functionId": str(running.function_id),
            "attempt": claim.attempt,
        }
        logger.info("execution.started", extra={**ids, "revision": running.revision})
        metrics.IN_FLIGHT.inc()
        result: ExecuteReply | None = None
        try:
            if not claim.target.runnable:  # pruned since it was enqueued: dead-lettered in
                outcome = Outcome.PLATFORM_ERROR  # the end; POST .../retry resolves anew
                error = f"platform error: revision {running.revision} was pruned before it ran"
            else:
                result = run_attempt(
                    self.db, self.runners, claim.target, claim.input_json, self.keyring
                )
                outcome = result.outcome
                error = None if outcome == Outcome.OK else result.error or outcome.value
        except ServiceUnavailable as exc:
            result, outcome, error = None, Outcome.PLATFORM_ERROR, f"platform error: {exc.message}"
        finally:
            metrics.IN_FLIGHT.dec()
        metrics.ATTEMPTS.labels(outcome.value).inc()
        retryable = outcome in RETRYABLE
        if retryable and claim.attempt < claim.max_attempts:
            delay = backoff_seconds(claim.backoff_ms, claim.attempt)
            with transaction(self.db) as conn:
                if attempts.release_attempt(conn, running.id, claim.attempt, delay):
                    self.queue.hide_for(conn, delivery.msg_id, delay)
                    concurrency.wake_deferred(conn, running.function_id)  # its slot is free
                    metrics.RETRIES.labels(outcome.value).inc()
                    logger.info(
                        "execution.retried",
                        extra={**ids, "reason": outcome.value, "delaySeconds": round(delay, 3)},
                    )
            return
        dead = retryable
        output = result.output if result is not None and error is None else None
        logs = result.logs if result else None
        try:
            record = self._finish(delivery, running, result, output, error, logs, dead, ids)
        except DataRejected as exc:  # e.g. an output jsonb cannot hold: as the sync path
            logger.warning("execution.unrecordable", extra={**ids, "error": exc.detail})
            error = f"platform error: the database refused the result ({exc.detail})"
            record = self._finish(delivery, running, result, None, error, None, dead, ids)
        if record is None:
            return
        if record.completed_at is not None:
            latency = (record.completed_at - record.created_at).total_seconds()
            metrics.LATENCY_SECONDS.observe(max(latency, 0.0))
        if dead:
            metrics.DEAD_LETTERS.inc()
            logger.warning(
                "execution.dead_lettered", extra={**ids, "outcome": outcome.value, "error": error}
            )
        elif error is None:
            logger.info("execution.completed", extra={**ids, "durationMs": record.duration_ms})
        else:
            logger.info("execution.failed", extra={**ids, "outcome": outcome.value})

    def _finish(
        self,
        delivery: Delivery,
        running: ExecutionRecord,
        result: ExecuteReply | None,
        output: str | None,
        error: str | None,
        logs: str | None,
        dead: bool,
        ids: dict[str, str],
    ) -> ExecutionRecord | None:
        """Record the attempt's outcome and settle its message, in one transaction (an
        outcome that is not a dead letter: in one statement); None when another attempt
        owns the row now."""
        outcome = outcome_of(running, output, error, result, logs)
        if dead:
            with transaction(self.db) as conn:
                record = outcomes.finish(conn, outcome, dead_lettered=True)  # wakes the next
                if record is not None:
                    self.queue.archive(conn, delivery.msg_id)
        else:
            with connection(self.db) as conn:
                record = outcomes.finish(conn, outcome, message=delivery.msg_id)
        if record is None:
            logger.warning("execution.attempt_fenced", extra=ids)
        return record
