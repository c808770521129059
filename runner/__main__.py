"""`python -m runner`: serve the runner with gunicorn on NIL_RUNNER_BIND (one sync worker)."""

import os
import sys

bind = os.environ.get("NIL_RUNNER_BIND", "unix:/run/nil/runner.sock")
timeout = os.environ.get("NIL_RUNNER_REQUEST_TIMEOUT", "120")
argv = [
    sys.executable,
    "-m",
    "gunicorn",
    "--bind",
    bind,
    "--workers",
    "1",
    "--worker-class",
    "sync",
    "--timeout",
    timeout,
    "--graceful-timeout",
    "5",
    "--worker-tmp-dir",
    os.environ.get("TMPDIR", "/tmp"),
    "--no-control-socket",
    "--umask",
    "0" if bind.startswith("unix:") else "18",
    "runner.wsgi:app",
]
os.execv(sys.executable, argv)
