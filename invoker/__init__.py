"""The invocation workers: run the asynchronous executions queued on `executions`."""

from __future__ import annotations


def main() -> None:
    from common.logging import configure_logging
    from common.runners import make_runners
    from common.service import open_service_pool, serve_until_stopped
    from invoker.settings import Settings
    from invoker.worker import Invoker

    settings = Settings.from_env()
    configure_logging("invoker", settings.log_level)
    db = open_service_pool("invoker", settings, max_size=settings.concurrency + 3)
    runners = make_runners(settings)
    invoker = Invoker(db, runners, settings)
    serve_until_stopped(
        "invoker",
        invoker,
        settings,
        db,
        started={"concurrency": settings.concurrency},
        closing=(runners.close,),
    )
