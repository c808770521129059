"""`python -m runner.healthcheck`: exit 0 when the runner on its bind address answers a
health request (busy or not: a runner in a call is working)."""

import sys

from common.runners import Runner
from runner.settings import Settings

address = Settings.from_env().bind.replace("0.0.0.0", "127.0.0.1")
sys.exit(0 if Runner(address).health(timeout=2.0) is not None else 1)
