from datetime import UTC, datetime

import pytest

from common.cron import InvalidSchedule, catch_up, next_tick, parse_cron, parse_timezone


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("* * * *", "cron"),
        ("* * * * * *", "cron"),
        ("61 * * * *", "cron"),
        ("a b c d e", "cron"),
        ("0 0 31 2 *", "cron"),  # valid fields, but February never has a 31st
        ("0 0 30-31 2 *", "cron"),
    ],
)
def test_bad_cron_names_the_field(text, field):
    with pytest.raises(InvalidSchedule) as caught:
        parse_cron(text)
    assert caught.value.field == field


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", " UTC"])
def test_unknown_timezones_are_refused(name):
    with pytest.raises(InvalidSchedule) as caught:
        parse_timezone(name)
    assert caught.value.field == "timezone"


def test_next_tick_is_strictly_after_in_utc():
    assert next_tick("* * * * *", "UTC", at(2026, 1, 1, 0, 0, 30)) == at(2026, 1, 1, 0, 1)
    assert next_tick("* * * * *", "UTC", at(2026, 1, 1, 0, 1)) == at(2026, 1, 1, 0, 2)
    assert next_tick("0 9 * * *", "Europe/Berlin", at(2026, 1, 1, 12)) == at(2026, 1, 2, 8)


def test_daylight_saving_follows_croniter_as_documented():
    spring = [at(2026, 3, 28, 12)]
    for _ in range(2):
        spring.append(next_tick("30 2 * * *", "Europe/Berlin", spring[-1]))
    assert spring[1:] == [at(2026, 3, 29, 1), at(2026, 3, 30, 0, 30)]  # 03:00 CEST, 02:30
    autumn = [at(2026, 10, 24, 12)]
    for _ in range(2):
        autumn.append(next_tick("30 2 * * *", "Europe/Berlin", autumn[-1]))
    assert autumn[1:] == [at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1, 30)]  # twice


def test_catch_up_fires_only_the_most_recent_missed_tick():
    plan = catch_up("* * * * *", "UTC", at(2026, 1, 1, 0, 1), at(2026, 1, 1, 0, 4, 1))
    assert (plan.fire, plan.skipped, plan.next_run_at) == (
        at(2026, 1, 1, 0, 4),
        3,
        at(2026, 1, 1, 0, 5),
    )
    on_time = catch_up("* * * * *", "UTC", at(2026, 1, 1, 0, 1), at(2026, 1, 1, 0, 1))
    assert (on_time.fire, on_time.skipped) == (at(2026, 1, 1, 0, 1), 0)
