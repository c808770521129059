"""Cron expressions and time zones for schedules (SPEC §11): validation and ticks. No IO.

A schedule is a 5-field cron expression (minute hour day-of-month month day-of-week)
read in an IANA time zone (`zoneinfo`); its ticks come from croniter, whose
daylight-saving semantics are the platform's: a wall-clock time skipped by a spring
transition fires at the first instant after the gap, and one repeated by an autumn
transition fires twice. For `30 2 * * *` in Europe/Berlin: on 2026-03-29 (02:00 → 03:00)
it fires at 03:00 CEST; on 2026-10-25 (03:00 → 02:00) at 02:30 CEST and again at
02:30 CET (docs/design.md, "Schedules").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

MAX_SKIPPED_COUNTED = 100_000  # past this many missed ticks, the count stops (still one fire)


class InvalidSchedule(ValueError):
    """A cron expression or time zone that cannot be used; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_cron(expression: str) -> str:
    """The expression, if it is a valid 5-field cron expression."""
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidSchedule(
            "cron",
            f"cron must have 5 fields (minute hour day-of-month month day-of-week),"
            f" got {len(fields)}: {expression[:100]!r}",
        )
    try:
        valid = croniter.is_valid(expression)
    except (CroniterBadCronError, ValueError):  # pragma: no cover - is_valid catches them
        valid = False
    if not valid:
        raise InvalidSchedule("cron", f"cron is not a valid cron expression: {expression[:100]!r}")
    try:  # valid fields that no date has, like 0 0 31 2 * (February 31st)
        croniter(expression, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidSchedule("cron", f"cron never matches a date: {expression[:100]!r}") from None
    return " ".join(fields)


def parse_timezone(name: str) -> ZoneInfo:
    try:
        if not name or name != name.strip() or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            "timezone", f"timezone must be an IANA time zone like Europe/Berlin, got {name[:64]!r}"
        ) from None


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick strictly after `after`, in UTC."""
    start = after.astimezone(ZoneInfo(timezone))
    return croniter(cron, start).get_next(datetime).astimezone(UTC)


@dataclass(frozen=True)
class Catchup:
    """What to do with a tick found due at `now`: fire `fire` (the most recent tick at
    or before now — the due one, or a later one when the platform was down), count
    `skipped` ticks not replayed, and make `next_run_at` the next due."""

    fire: datetime
    skipped: int
    next_run_at: datetime


def catch_up(cron: str, timezone: str, due: datetime, now: datetime) -> Catchup:
    """Ticks from `due` (≤ now): only the most recent one at or before `now` fires."""
    fire, skipped = due, 0
    following = next_tick(cron, timezone, due)
    while following <= now:
        fire, following = following, next_tick(cron, timezone, following)
        skipped += 1
        if skipped >= MAX_SKIPPED_COUNTED:  # a long outage: jump to now
            fire = _previous_tick(cron, timezone, now)
            following = next_tick(cron, timezone, now)
            break
    return Catchup(fire, skipped, following)


def _previous_tick(cron: str, timezone: str, now: datetime) -> datetime:
    start = now.astimezone(ZoneInfo(timezone))
    candidate = croniter(cron, start).get_prev(datetime).astimezone(UTC)
    following = next_tick(cron, timezone, candidate)
    return following if following <= now else candidate
