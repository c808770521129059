"""Background housekeeping in the consumer's loop: periodic tasks, each run when due,
a failure logged and retried at its next turn (never the end of the consumer).

The tasks: the sweeper (consumer/sweeper.py: executions lost in RUNNING) and the
pruner below. A new periodic job of the platform's data is one more `Task`.

**Pruning** (SPEC §9): a revision's artifact is kept while an alias points at the
revision or fewer than 10 newer revisions are READY; past that, the revision is marked
pruned (its row, source and status stay; it can no longer run or be a target) and an
artifact no revision points at any more is deleted. Each function is pruned under its
row lock, which alias changes hold too, so no alias starts pointing at a revision as its
artifact goes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg_pool

from common.db import transaction
from consumer import metrics
from db import revisions as repo

logger = logging.getLogger(__name__)


@dataclass
class Task:
    name: str
    run: Callable[[], int]
    every_seconds: float
    last_run: float = float("-inf")


class Housekeeping:
    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks

    def run_due(self) -> None:
        now = time.monotonic()
        for task in self.tasks:
            if now - task.last_run < task.every_seconds:
                continue
            task.last_run = now
            try:
                task.run()
            except Exception:  # the next turn retries; the consumer goes on
                logger.exception("housekeeping.failed", extra={"task": task.name})


class Pruner:
    def __init__(
        self, db: psycopg_pool.ConnectionPool, *, keep: int = repo.KEEP_NEWER_READY
    ) -> None:
        self.db = db
        self.keep = keep

    def prune(self) -> int:
        """Prune every function that has revisions to prune; returns how many revisions."""
        with transaction(self.db) as conn:
            candidates = repo.functions_to_prune(conn, self.keep)
        pruned = 0
        for function_id in candidates:
            with transaction(self.db) as conn:
                revisions = repo.prune_function(conn, function_id, self.keep)
            if revisions:
                pruned += len(revisions)
                logger.info(
                    "revisions.pruned",
                    extra={"functionId": str(function_id), "revisions": revisions},
                )
        with transaction(self.db) as conn:
            deleted = repo.delete_unreferenced_artifacts(conn)
        metrics.PRUNED.inc(pruned)
        metrics.ARTIFACTS_DELETED.inc(deleted)
        if deleted:
            logger.info("artifacts.deleted", extra={"count": deleted})
        return pruned
