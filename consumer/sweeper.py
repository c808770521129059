"""The stale-execution sweeper: executions left RUNNING past their function's timeout
plus a margin (their runner or gateway died mid-call) are failed with a platform error,
so none stays RUNNING forever (SPEC §5). A task of the consumer's housekeeping."""

from __future__ import annotations

import logging

import psycopg_pool

from common.db import transaction
from consumer import metrics
from db import executions as repo

logger = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, db: psycopg_pool.ConnectionPool, *, margin_ms: int = 30_000) -> None:
        self.db = db
        self.margin_ms = margin_ms

    def sweep(self) -> int:
        """Fail executions stuck in RUNNING; returns how many."""
        with transaction(self.db) as conn:
            swept = repo.fail_stale_executions(conn, self.margin_ms)
        if swept:
            metrics.SWEPT.inc(swept)
            logger.warning("executions.swept", extra={"count": swept})
        return swept
