"""Retention (SPEC §10), a housekeeping task of the consumer: executions older than
NIL_EXECUTION_RETENTION_DAYS and archived pgmq messages (dead letters) as old are
deleted, and idempotency keys older than 24 h released — each in small batches, every
batch its own short transaction, rows locked by others skipped: no long lock, no long
transaction, however much is due. A turn does at most `max_batches` of each; the rest
waits for the next turn."""

from __future__ import annotations

import logging

import psycopg_pool

from common.db import transaction
from common.queue import ARCHIVED_QUEUES, prune_archive
from consumer import metrics
from db import executions as repo

logger = logging.getLogger(__name__)


class Retention:
    def __init__(
        self,
        db: psycopg_pool.ConnectionPool,
        *,
        days: int,
        batch: int = 500,
        max_batches: int = 20,
    ) -> None:
        self.db = db
        self.days = days
        self.batch = batch
        self.max_batches = max_batches

    def run(self) -> int:
        """One turn; returns the rows deleted or changed."""
        executions = self._batches(
            lambda conn: repo.delete_old_executions(conn, self.days, self.batch)
        )
        keys = self._batches(lambda conn: repo.release_expired_keys(conn, self.batch))
        archived = sum(
            self._batches(lambda conn, q=queue: prune_archive(conn, q, self.days, self.batch))
            for queue in ARCHIVED_QUEUES
        )
        metrics.RETENTION_DELETED.labels("executions").inc(executions)
        metrics.RETENTION_DELETED.labels("archived_messages").inc(archived)
        if executions or archived or keys:
            logger.info(
                "retention.ran",
                extra={"executions": executions, "archivedMessages": archived, "keys": keys},
            )
        return executions + archived + keys

    def _batches(self, one) -> int:
        total = 0
        for _ in range(self.max_batches):
            with transaction(self.db) as conn:
                done = one(conn)
            total += done
            if done < self.batch:
                break
        return total
