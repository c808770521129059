"""`python -m runner.healthcheck`: exit 0 when the runner on NIL_RUNNER_BIND answers."""

import os
import sys

from common import unix_http

address = os.environ.get("NIL_RUNNER_BIND", "unix:/run/nil/runner.sock")
try:
    status, _ = unix_http.request(
        address.replace("0.0.0.0", "127.0.0.1"), "GET", "/health", timeout=2.0
    )
except OSError:
    sys.exit(1)
sys.exit(0 if status == 200 else 1)
