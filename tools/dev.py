"""`make dev`: the whole platform on this machine, Ctrl-C or SIGTERM to stop it all."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from common.config import database_url, env_int, env_str
from db import migrate
from tools.platform import LocalPlatform, start_embedded_postgres


def main() -> int:
    home = Path(env_str("NIL_HOME", ".nil") or ".nil").resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = database_url()
    if not url:
        print(f"dev | starting embedded PostgreSQL in {home / 'pgdata'}", flush=True)
        url = start_embedded_postgres(home)
    applied = migrate(url)
    print(f"dev | migrations applied: {applied or 'none (up to date)'}", flush=True)
    port = env_int("PORT", 8080)
    platform = LocalPlatform(
        url,
        home,
        port=port,
        builder_port=env_int("NIL_BUILDER_PORT", port + 1),
        consumer_port=env_int("NIL_CONSUMER_PORT", port + 2),
        runners=env_int("NIL_RUNNERS", 2),
    )

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    platform.start()
    try:
        platform.wait_ready(timeout=90)
        print(
            f"dev | Nil is up: API http://127.0.0.1:{port}  (try: curl "
            f"http://127.0.0.1:{port}/ready)\n"
            f"dev | metrics: gateway http://127.0.0.1:{port}/metrics\n"
            f"dev |          builder http://127.0.0.1:{platform.builder_port}/metrics\n"
            f"dev |          consumer http://127.0.0.1:{platform.consumer_port}/metrics\n"
            f"dev |          runners curl --unix-socket "
            f"{home / 'runners'}/shared-<n>/runner.sock http://runner/metrics\n"
            f"dev | press Ctrl-C to stop",
            flush=True,
        )
        code = platform.wait()
        print(f"dev | a process exited ({code}); stopping", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ndev | stopping", flush=True)
        return 0
    finally:
        platform.stop()


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.exit(main())
