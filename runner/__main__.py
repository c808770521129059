"""`python -m runner`: the runner's keeper (runner/keeper.py), which binds the runner's
sockets and keeps its worker process (runner/server.py) serving them."""

import sys

from runner.keeper import main

sys.exit(main())
