"""`python -m runner`: serve the runner with gunicorn on its bind address (one sync
worker: one call at a time)."""

import os
import sys
import tempfile

from runner.settings import Settings

settings = Settings.from_env()
argv = [
    sys.executable,
    "-m",
    "gunicorn",
    "--bind",
    settings.bind,
    "--workers",
    "1",
    "--worker-class",
    "sync",
    "--timeout",
    str(settings.request_timeout_seconds),
    "--graceful-timeout",
    "5",
    "--worker-tmp-dir",
    tempfile.gettempdir(),
    "--no-control-socket",
    "--umask",
    "0" if settings.bind.startswith("unix:") else "18",
    "runner.wsgi:app",
]
os.execv(sys.executable, argv)
