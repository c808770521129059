"""`make dev`: the whole platform on this machine, Ctrl-C or SIGTERM to stop it all."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from db import migrate
from tools.platform import LocalPlatform, start_embedded_postgres
from tools.settings import DevSettings


def main() -> int:
    settings = DevSettings.from_env()
    home = Path(settings.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = settings.database_url
    if not url:
        print(f"dev | starting embedded PostgreSQL in {home / 'pgdata'}", flush=True)
        url = start_embedded_postgres(home)
    applied = migrate(url)
    print(f"dev | migrations applied: {applied or 'none (up to date)'}", flush=True)
    port = settings.port
    platform = LocalPlatform(
        url,
        home,
        port=port,
        builder_port=settings.builder_port,
        consumer_port=settings.consumer_port,
        invoker_port=settings.invoker_port,
        scheduler_port=settings.scheduler_port,
        supervisor_port=settings.supervisor_port,
        runners=settings.runners,
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
            f"dev |          invoker http://127.0.0.1:{platform.invoker_port}/metrics\n"
            f"dev |          scheduler http://127.0.0.1:{platform.scheduler_port}/metrics\n"
            f"dev |          runners http://127.0.0.1:{platform.supervisor_port}/metrics"
            f" (every runner, labelled runner=<name>)\n"
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
