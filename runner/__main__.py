"""`python -m runner`: the runner's keeper (runner/keeper.py), which binds the runner's
sockets and keeps its worker process (runner/server.py) serving them.

A SIGTERM is caught from the first line on: as a container's or a pod's PID 1, the
process would ignore one that came before it had a handler (the kernel drops signals
PID 1 does not handle), and a runner stopped while it starts would then live until the
orchestrator's kill, 75 s later. The keeper drains it once it runs.
"""

import signal
import sys

TERMINATED: list[int] = []
signal.signal(signal.SIGTERM, lambda signum, frame: TERMINATED.append(signum))

from runner.keeper import main  # noqa: E402 (the imports take most of a second)

sys.exit(main(TERMINATED))
