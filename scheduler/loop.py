"""The scheduler's loop: find the schedules whose tick is due, fire each once.

Exactly once per tick, however many scheduler processes run, is the database's doing
(db/schedules.py: a conditional update of `next_run_at` in the statement that enqueues
the execution); this loop holds no lock and elects no leader, so processes can come and
go freely. After downtime a schedule fires once, for its most recent missed tick
(common/cron.py: catch_up), and the others are counted as skipped.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg_pool

from common.cron import catch_up
from common.db import connection
from common.errors import NilError
from common.lifecycle import StopFlag
from db import schedules as repo
from db.schedules import ScheduleRecord
from scheduler import metrics
from scheduler.settings import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def file_clock(path: str) -> Clock:
    """A clock tests set by writing an RFC 3339 timestamp to `path`."""

    def now() -> datetime:
        return datetime.fromisoformat(Path(path).read_text().strip())

    return now


class Scheduler:
    def __init__(
        self, db: psycopg_pool.ConnectionPool, settings: Settings, clock: Clock | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or (
            file_clock(settings.clock_file) if settings.clock_file else system_clock
        )
        self.stop_flag = StopFlag()

    def run(self, *, wait: bool = True) -> int:
        """Fire due ticks until stopped; with wait=False, return once none is due.
        Returns the ticks this process claimed."""
        fired = 0
        while not self.stop_flag.stopping:
            try:
                handled, claimed, pause = self.look()
            except NilError as exc:  # the database is down: try again next look
                logger.warning("scheduler.look.failed", extra={"error": exc.message})
                handled, claimed, pause = 0, 0, self.settings.poll_seconds
            fired += claimed
            if not wait and handled == 0:
                break
            if handled < self.settings.batch:
                self.stop_flag.wait(pause)
        return fired

    def look(self) -> tuple[int, int, float]:
        """Fire every schedule due now (up to a batch): (due found, ticks claimed, how
        long to sleep — until the soonest next tick, at most the poll interval)."""
        now = self.clock()
        metrics.LAST_LOOK.set(time.time())
        with connection(self.db) as conn:
            due = repo.due_schedules(conn, now, self.settings.batch)
        claimed = sum(self._fire(schedule, now) for schedule in due)
        with connection(self.db) as conn:
            soonest = repo.next_due(conn)
        pause = self.settings.poll_seconds
        if soonest is not None:
            pause = min(pause, max((soonest - self.clock()).total_seconds(), 0.005))
        return len(due), claimed, pause

    def _fire(self, schedule: ScheduleRecord, now: datetime) -> bool:
        plan = catch_up(schedule.cron, schedule.timezone, schedule.next_run_at, now)
        execution_id = uuid.uuid4()
        with connection(self.db) as conn:
            fire = repo.fire_tick(
                conn, schedule, execution_id=execution_id, next_run_at=plan.next_run_at
            )
        ids = {"scheduleId": str(schedule.id), "functionId": str(schedule.function_id)}
        if not fire.claimed:
            metrics.LOST_CLAIMS.inc()
            return False
        metrics.SKIPPED.inc(plan.skipped)
        lag = (now - plan.fire).total_seconds()
        metrics.LAG_SECONDS.observe(max(lag, 0.0))
        if fire.execution_id is None:
            metrics.FIRES.labels("not_ready").inc()
            logger.warning("schedule.tick.not_ready", extra={**ids, "tick": plan.fire.isoformat()})
            return True
        metrics.FIRES.labels("enqueued").inc()
        logger.info(
            "schedule.fired",
            extra={
                **ids,
                "executionId": str(fire.execution_id),
                "tick": plan.fire.isoformat(),
                "skipped": plan.skipped,
                "lagSeconds": round(lag, 3),
                "nextRunAt": plan.next_run_at.isoformat(),
            },
        )
        return True
