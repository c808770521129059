"""A Nil cluster on one machine, as real processes on loopback: gateways (each its own
gunicorn master), invocation workers, builders, a consumer, schedulers, and runners on
TCP found by the static discovery backend — the shape of a Kubernetes install, sharing
one Postgres. The schedulers read "now" from one test clock file (`set_clock`).

Each process can be killed (SIGKILL) or stopped (SIGTERM) and started again on the same
port, as a node loss or a rollout does to a pod."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from common.runners import Runner
from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PORT_VARIABLES = {
    "gateway": "PORT",
    "builder": "NIL_BUILDER_PORT",
    "invoker": "NIL_INVOKER_PORT",
    "consumer": "NIL_CONSUMER_PORT",
    "scheduler": "NIL_SCHEDULER_PORT",
}


@dataclass
class Member:
    kind: str  # gateway, builder, invoker, consumer, scheduler, runner
    port: int
    proc: subprocess.Popen | None = None
    metrics_port: int = 0  # a runner's metrics listener (NIL_RUNNER_METRICS_BIND); 0: none

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    database_url: str
    home: Path
    members: list[Member] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    env_by_kind: dict[str, dict[str, str]] = field(default_factory=dict)  # after extra_env

    @classmethod
    def of(
        cls, database_url: str, home: Path, extra_env: dict[str, str] | None = None, **counts: int
    ) -> Cluster:
        cluster = cls(database_url, home, extra_env=extra_env or {})
        for kind in ("runner", "gateway", "invoker", "builder", "consumer", "scheduler"):
            for _ in range(counts.get(kind, 0)):
                cluster.members.append(Member(kind, free_port()))
        return cluster

    def of_kind(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind]

    @property
    def clock(self) -> Path:
        return self.home / "scheduler-clock"

    def set_clock(self, moment: datetime) -> None:
        """What the schedulers take for now (an atomic replace: never half a timestamp)."""
        tmp = self.clock.with_suffix(".tmp")
        tmp.write_text(moment.isoformat())
        tmp.replace(self.clock)

    @property
    def runner_endpoints(self) -> str:
        return ",".join(m.address for m in self.of_kind("runner"))

    def env(self, member: Member) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "NIL_HOME": str(self.home / f"{member.kind}-{member.port}"),
            "NIL_POOL_BACKEND": "static",
            "NIL_RUNNER_ENDPOINTS": self.runner_endpoints,
            "PYTHONUNBUFFERED": "1",
            "NIL_LOG_LEVEL": "WARNING",
        }
        for variable in PORT_VARIABLES.values():  # every service's own port: never a default
            env[variable] = str(free_port())
        if member.kind in PORT_VARIABLES:
            env[PORT_VARIABLES[member.kind]] = str(member.port)
        if member.kind == "runner":
            env["NIL_RUNNER_BIND"] = member.address
            env["NIL_RUNNER_GRACEFUL_SECONDS"] = "20"
            if member.metrics_port:
                env["NIL_RUNNER_METRICS_BIND"] = f"127.0.0.1:{member.metrics_port}"
        if member.kind == "gateway":
            metrics = self.home / f"metrics-{member.port}"
            metrics.mkdir(parents=True, exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
            env["NIL_GATEWAY_WORKERS"] = "2"
        if member.kind == "scheduler":
            env["NIL_SCHEDULER_CLOCK_FILE"] = str(self.clock)
            env["NIL_SCHEDULER_POLL_SECONDS"] = "0.05"
        return {**env, **self.extra_env, **self.env_by_kind.get(member.kind, {})}

    def start(self, member: Member) -> None:
        module = "runner" if member.kind == "runner" else member.kind
        member.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=self.env(member),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(member,), daemon=True).start()

    def _pump(self, member: Member) -> None:
        assert member.proc is not None and member.proc.stdout is not None
        with member.proc.stdout as output:
            for line in output:
                self.log.append(f"{member.kind}:{member.port} | {line.decode(errors='replace')}")

    def start_all(self, timeout: float = 120.0) -> None:
        if not self.clock.exists():
            self.set_clock(datetime.now(UTC))
        for member in self.members:
            self.start(member)
        for member in self.members:
            self.wait_serving(member, timeout)

    def serving(self, member: Member) -> bool:
        if member.kind == "runner":
            return Runner(member.address).health(timeout=1.0) is not None
        try:
            response = requests.get(member.url + "/health", timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def wait_serving(self, member: Member, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.serving(member):
            assert member.proc is not None
            if member.proc.poll() is not None:
                raise RuntimeError(f"{member.kind} exited:\n{''.join(self.log[-60:])}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{member.kind} did not serve:\n{''.join(self.log[-60:])}")
            time.sleep(0.1)

    def stop(self, member: Member, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the member's process group; returns its exit code."""
        assert member.proc is not None
        if member.proc.poll() is None:
            os.killpg(member.proc.pid, sig)
        try:
            return member.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(member.proc.pid, signal.SIGKILL)
            return member.proc.wait()

    def stop_all(self) -> None:
        for member in self.members:
            if member.proc is not None and member.proc.poll() is None:
                os.killpg(member.proc.pid, signal.SIGTERM)
        for member in self.members:
            if member.proc is not None:
                self.stop(member)
