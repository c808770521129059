"""gunicorn settings for the gateway, from the gateway's settings.

With a backend whose runners a launcher starts (`local`, `docker`), the gunicorn master
also keeps the one runner supervisor (runner/supervisor.py) for all workers running
(gateway/supervisor_keeper.py), and stops it on exit.
"""

import sys

from common.logging import configure_logging
from gateway.settings import Settings
from gateway.supervisor_keeper import SupervisorKeeper

settings = Settings.from_env()
bind = f"{settings.host}:{settings.port}"
workers = settings.workers
# connections on greenlets with read deadlines and JSON errors, the app on `threads`
# native threads: a slow client costs a greenlet, not a thread (gateway/worker.py)
worker_class = "gateway.worker.GatewayWorker"
worker_connections = settings.connections
timeout = 120
keepalive = 75  # longer than the idle timeout of the load balancers in front
graceful_timeout = settings.graceful_seconds  # > the longest call (NIL_MAX_TIMEOUT_MS)
accesslog = None
proc_name = "nil-gateway"
control_socket_disable = True

_supervisor: SupervisorKeeper | None = None


def on_starting(server) -> None:
    global _supervisor
    if settings.launcher is not None and settings.supervise_runners:
        configure_logging("gateway", settings.log_level)  # the master's own events
        _supervisor = SupervisorKeeper([sys.executable, "-m", "runner.supervisor"])
        _supervisor.start()


def on_exit(server) -> None:
    if _supervisor is not None:
        _supervisor.stop()


def child_exit(server, worker) -> None:
    if settings.metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, settings.metrics_dir)
