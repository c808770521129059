"""Every statement on the schedules table (SPEC §11), and the firing of a tick.

A schedule's `next_run_at` is the next tick due. A scheduler fires a due tick in one
statement: a conditional update moves `next_run_at` from the tick it read to the next
one (`claimed`), and only if that update matched does the same statement insert the
PENDING execution (`trigger: schedule`, the function's `live` revision) and send its
message — the asynchronous path of db/executions.py, gated on the claim. Racing
schedulers wait on the row's lock; the losers' updates then match nothing, so a tick
starts exactly one execution however many schedulers run, and none is lost.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from common.jsonvalues import compact
from db.executions import enqueue_statement
from db.records import from_columns
from db.targets import (
    TARGET_CTES,
    TARGET_WIDTH,
    RevisionChoice,
    Target,
    resolve_params,
    route_bucket,
)


@dataclasses.dataclass(frozen=True)
class ScheduleRecord:
    id: UUID
    function_id: UUID
    cron: str
    timezone: str
    input: dict[str, Any]
    next_run_at: datetime
    created_at: datetime

    COLUMNS = "id, function_id, cron, timezone, input, next_run_at, created_at"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ScheduleRecord:
        return from_columns(cls, row)


MAX_SCHEDULES_PER_FUNCTION = 100


class TooManySchedules(Exception):
    """The function already has MAX_SCHEDULES_PER_FUNCTION schedules."""


def create_schedule(
    conn: psycopg.Connection,
    schedule_id: UUID,
    function_id: UUID,
    *,
    cron: str,
    timezone: str,
    input_value: dict,
    next_run_at: datetime,
) -> ScheduleRecord | None:
    """The new schedule; None when the function does not exist. Raises TooManySchedules
    at the cap: the function's row lock orders concurrent creations, and the count,
    a statement of its own, sees every schedule committed before the lock was granted."""
    with conn.transaction():
        if not conn.execute(
            "SELECT 1 FROM functions WHERE id = %s FOR UPDATE", (function_id,)
        ).fetchone():
            return None
        (count,) = conn.execute(
            "SELECT count(*) FROM schedules WHERE function_id = %s", (function_id,)
        ).fetchone()
        if count >= MAX_SCHEDULES_PER_FUNCTION:
            raise TooManySchedules(
                f"a function has at most {MAX_SCHEDULES_PER_FUNCTION} schedules; delete one first"
            )
        row = (
            conn.cursor(row_factory=dict_row)
            .execute(
                "INSERT INTO schedules (id, function_id, cron, timezone, input, next_run_at)"
                f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {ScheduleRecord.COLUMNS}",
                (schedule_id, function_id, cron, timezone, Jsonb(input_value), next_run_at),
            )
            .fetchone()
        )
    return ScheduleRecord.from_row(row)


def list_schedules(conn: psycopg.Connection, function_id: UUID) -> list[ScheduleRecord]:
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {ScheduleRecord.COLUMNS} FROM schedules WHERE function_id = %s"
            " ORDER BY created_at, id",
            (function_id,),
        )
        .fetchall()
    )
    return [ScheduleRecord.from_row(r) for r in rows]


def delete_schedule(conn: psycopg.Connection, function_id: UUID, schedule_id: UUID) -> bool:
    return (
        conn.execute(
            "DELETE FROM schedules WHERE id = %s AND function_id = %s",
            (schedule_id, function_id),
        ).rowcount
        == 1
    )


def due_schedules(conn: psycopg.Connection, now: datetime, limit: int) -> list[ScheduleRecord]:
    """Schedules whose next tick is at or before `now`, soonest first."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {ScheduleRecord.COLUMNS} FROM schedules WHERE next_run_at <= %s"
            " ORDER BY next_run_at LIMIT %s",
            (now, limit),
        )
        .fetchall()
    )
    return [ScheduleRecord.from_row(r) for r in rows]


def next_due(conn: psycopg.Connection) -> datetime | None:
    """The soonest tick of any schedule."""
    row = conn.execute("SELECT min(next_run_at) FROM schedules").fetchone()
    return row[0] if row else None


_CLAIM = """claimed AS (
    UPDATE schedules SET next_run_at = %(next_run_at)s
    WHERE id = %(schedule_id)s AND next_run_at = %(due)s
    RETURNING id
), """
_FIRE = enqueue_statement(TARGET_CTES["alias"], claim=_CLAIM)


@dataclasses.dataclass(frozen=True)
class Fire:
    """What firing a tick did: whether this scheduler claimed it, and the execution it
    enqueued (None when the claim was lost, or the function had nothing READY to run —
    the tick is then consumed without an execution)."""

    claimed: bool
    execution_id: UUID | None
    target: Target | None


def fire_tick(
    conn: psycopg.Connection,
    schedule: ScheduleRecord,
    *,
    execution_id: UUID,
    next_run_at: datetime,
) -> Fire:
    """Claim the tick `schedule.next_run_at` (moving it to `next_run_at`) and, with it,
    enqueue one execution of the function's `live` revision on the schedule's input."""
    choice = RevisionChoice()
    params = {
        **resolve_params(schedule.function_id, choice, route_bucket(execution_id)),
        "schedule_id": schedule.id,
        "due": schedule.next_run_at,
        "next_run_at": next_run_at,
        "id": execution_id,
        "input": compact(schedule.input),
        "trigger": "schedule",
        "choice": json.dumps(choice.to_json()),
        "key": None,
        "fingerprint": None,
    }
    row = conn.execute(_FIRE, params).fetchone()  # one statement: one transaction
    if row is None:  # the function is gone (and its schedules with it)
        return Fire(False, None, None)
    target = Target.from_row(row)
    created, _msg_id, claimed = row[TARGET_WIDTH : TARGET_WIDTH + 3]
    return Fire(bool(claimed), execution_id if created else None, target)
