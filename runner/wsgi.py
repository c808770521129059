"""gunicorn entry point: `gunicorn runner.wsgi:app` (one sync worker: one call at a time)."""

from common.logging import configure_logging
from runner.app import RunnerApp
from runner.settings import Settings

settings = Settings.from_env()
configure_logging("runner", settings.log_level)
app = RunnerApp(settings)
