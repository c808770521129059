"""gunicorn settings for the gateway, from the gateway's settings.

With a backend whose runners a launcher starts (`local`, `docker`), the gunicorn master
also starts the one runner supervisor (runner/supervisor.py) for all workers, and stops
it on exit.
"""

import subprocess
import sys

from gateway.settings import Settings

settings = Settings.from_env()
bind = f"{settings.host}:{settings.port}"
workers = settings.workers
worker_class = "gthread"
threads = settings.threads
timeout = 120
keepalive = 75  # longer than the idle timeout of the load balancers in front
graceful_timeout = 20
accesslog = None
proc_name = "nil-gateway"
control_socket_disable = True

_supervisor: subprocess.Popen | None = None


def on_starting(server) -> None:
    global _supervisor
    if settings.launcher is not None and settings.supervise_runners:
        _supervisor = subprocess.Popen([sys.executable, "-m", "runner.supervisor"])


def on_exit(server) -> None:
    if _supervisor is not None and _supervisor.poll() is None:
        _supervisor.terminate()
        try:
            _supervisor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _supervisor.kill()


def child_exit(server, worker) -> None:
    if settings.metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, settings.metrics_dir)


# gunicorn drains at most 64 KiB of a request body the app left unread (a 413 over
# NIL_MAX_BODY_BYTES, a 401 or 429 before the body is read) and otherwise closes the
# connection after a response that said keep-alive: the client's next request on it
# then fails with "server disconnected". A request whose body may be larger is
# answered with `Connection: close` instead, so clients open a new connection.
_DRAIN_LIMIT = 64 * 1024


def pre_request(worker, req) -> None:
    worker.log.debug("%s %s", req.method, req.path)  # gunicorn's default hook
    headers = dict(req.headers)
    length = headers.get("CONTENT-LENGTH", "0")
    if "TRANSFER-ENCODING" in headers or not length.isdigit() or int(length) > _DRAIN_LIMIT:
        req.must_close = True
