"""`python -m runner.healthcheck`: exit 0 when the runner on its bind address answers."""

import sys

from common.runners import transport
from runner.settings import Settings

address = Settings.from_env().bind.replace("0.0.0.0", "127.0.0.1")
sys.exit(0 if transport.healthy(address, timeout=2.0) else 1)
