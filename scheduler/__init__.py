"""The scheduler: fires cron schedules' ticks as asynchronous executions (SPEC §11).

Its own service (not a thread of the invocation workers) so that it scales and fails
apart from them: any number may run, since the database decides which one fires a tick
(scheduler/loop.py), and the invokers run what it enqueues like any invocation.
"""

from __future__ import annotations


def main() -> None:
    from common.logging import configure_logging
    from common.service import open_service_pool, serve_until_stopped
    from scheduler.loop import Scheduler
    from scheduler.settings import Settings

    settings = Settings.from_env()
    configure_logging("scheduler", settings.log_level)
    db = open_service_pool("scheduler", settings, max_size=2)
    scheduler = Scheduler(db, settings)
    serve_until_stopped("scheduler", scheduler, settings, db)
