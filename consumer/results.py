"""Applying compilation results to functions (SPEC §4).

Each result is applied and its message deleted in one transaction, so a crash
anywhere leaves the message to be redelivered and applied again — idempotently,
because a result only ever targets its own revision.

Before a successful result is applied, a runner is warmed with the artifact
(consumer/warmer.py). Small artifacts warm in milliseconds, inline. A large one (a
Python component: seconds, tens of seconds on one CPU) warms on a side lane, one at
a time, its message's visibility extended, while the main loop goes on applying the
results of other functions.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg_pool

from common.contracts import CompilationResult
from common.db import transaction
from common.errors import NilError
from common.lifecycle import StopFlag
from common.queue import CompilationQueues, Delivery
from consumer.housekeeping import Housekeeping
from consumer.metrics import LAG_SECONDS, RESULTS
from consumer.warmer import ArtifactWarmer
from db import revisions as repo

logger = logging.getLogger(__name__)

SLOW_WARM_BASE64_CHARS = 4 * 1024 * 1024 * 4 // 3  # artifacts of 4 MiB and more


class ResultConsumer:
    def __init__(
        self,
        db: psycopg_pool.ConnectionPool,
        *,
        batch_size: int = 10,
        visibility_timeout: int = 30,
        max_reads: int = 5,
        poll_seconds: int = 1,
        warmer: ArtifactWarmer | None = None,
        housekeeping: Housekeeping | None = None,
    ) -> None:
        self.db = db
        self.warmer = warmer
        self.housekeeping = housekeeping
        self.queues = CompilationQueues(db)
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self.max_reads = max_reads
        self.poll_seconds = poll_seconds
        self.stop_flag = StopFlag()
        self._side_lane = threading.Semaphore(1)
        self._side_threads: list[threading.Thread] = []

    def run(self, *, wait: bool = True, max_results: int | None = None) -> int:
        """Apply results until stopped; with wait=False, return once the queue is empty."""
        applied = 0
        while not self.stop_flag.stopping:
            try:
                if self.housekeeping is not None:
                    self.housekeeping.run_due()
                batch = self.queues.read_results(
                    vt=self.visibility_timeout,
                    qty=self.batch_size,
                    poll_seconds=self.poll_seconds if wait else 0,
                )
            except NilError:
                if not wait:
                    raise
                self.stop_flag.wait(1.0)
                continue
            for delivery in batch:
                try:
                    if self._warms_slowly(delivery):
                        self._handle_on_side_lane(delivery)
                    else:
                        self.handle(delivery)
                except NilError:
                    logger.warning("consumer.database_unavailable")
                    break
                applied += 1
                if max_results is not None and applied >= max_results:
                    self.drain_side_lane()
                    return applied
            if not batch and not wait:
                self.drain_side_lane()
                return applied
        return applied  # stopping: a result still warming is redelivered later

    def _warms_slowly(self, delivery: Delivery) -> bool:
        payload = delivery.payload if isinstance(delivery.payload, dict) else {}
        binary = payload.get("wasmBinary")
        return (
            self.warmer is not None
            and payload.get("success") is True
            and isinstance(binary, str)
            and len(binary) >= SLOW_WARM_BASE64_CHARS
        )

    def _handle_on_side_lane(self, delivery: Delivery) -> None:
        """Warm and apply in a thread; wait here only while another one is warming."""
        self._side_lane.acquire()
        try:
            # it may have waited for the lane: give it a whole visibility period again
            self.queues.extend_result(delivery.msg_id, self.visibility_timeout)
        except BaseException:
            self._side_lane.release()
            raise

        def run() -> None:
            try:
                self.handle(delivery)
            except NilError:
                logger.warning("consumer.database_unavailable")
            finally:
                self._side_lane.release()

        thread = threading.Thread(target=run, name="consumer-warm", daemon=True)
        self._side_threads = [t for t in self._side_threads if t.is_alive()] + [thread]
        thread.start()

    def drain_side_lane(self) -> None:
        """Wait for the result being warmed on the side lane (tests, shutdown)."""
        for thread in self._side_threads:
            thread.join()
        self._side_threads = []

    def handle(self, delivery: Delivery) -> None:
        try:
            result = CompilationResult.from_json(delivery.payload)
        except (KeyError, TypeError, ValueError) as exc:
            logger.error(
                "compilation.result.malformed", extra={"msgId": delivery.msg_id, "error": str(exc)}
            )
            self.queues.archive_result(delivery.msg_id)
            RESULTS.labels("malformed").inc()
            return
        if result.success and result.language and result.wasm_binary and self.warmer:
            self.warmer.warm(result.function_id, result.language, result.wasm_binary)
        try:
            with transaction(self.db) as conn:
                outcome = repo.apply_result(conn, result)
                self.queues.delete_result(conn, delivery.msg_id)
        except Exception:
            logger.exception("compilation.result.retry", extra={"functionId": result.function_id})
            if delivery.read_ct >= self.max_reads:
                self.queues.archive_result(delivery.msg_id)
                logger.error(
                    "compilation.result.dead_lettered", extra={"functionId": result.function_id}
                )
                RESULTS.labels("dead_lettered").inc()
            return
        RESULTS.labels(outcome.value).inc()
        if delivery.enqueued_at is not None:
            LAG_SECONDS.observe(max(0.0, time.time() - delivery.enqueued_at.timestamp()))
        logger.info(
            "compilation.result.applied",
            extra={
                "functionId": result.function_id,
                "revision": result.revision,
                "success": result.success,
                "outcome": outcome.value,
            },
        )
