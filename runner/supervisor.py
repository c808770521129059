"""The local runner pool manager: N runner processes on unix sockets in one directory.

One supervisor serves every gateway worker: gateways find runners by their sockets
(`runner-<i>.sock`) and take a runner by locking its `.lock` file. The supervisor
health-checks each runner and replaces one that exits or stops answering.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import unix_http
from common.config import env_float, env_int, env_str
from common.lifecycle import StopFlag
from runner import cgroups

logger = logging.getLogger(__name__)
STATE_FILE = "supervisor.json"


@dataclass
class RunnerProcess:
    index: int
    socket: Path
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    replacements: int = 0
    healthy: bool = False

    @property
    def name(self) -> str:
        return f"runner-{self.index}"

    @property
    def address(self) -> str:
        return f"unix:{self.socket}"


class LocalSupervisor:
    def __init__(
        self,
        runner_dir: str | Path,
        count: int,
        *,
        limits: cgroups.CgroupLimits | None = None,
        check_interval: float = 0.25,
        execution_timeout: int = 120,
    ) -> None:
        self.dir = Path(runner_dir).resolve()
        self.limits = limits
        self.check_interval = check_interval
        self.execution_timeout = execution_timeout
        self.runners = [RunnerProcess(i, self.dir / f"runner-{i}.sock") for i in range(count)]
        self.stop_flag = StopFlag()
        self.cgroups_enabled: bool | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for runner in self.runners:
            self._spawn(runner)

    def _spawn(self, runner: RunnerProcess) -> None:
        runner.socket.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            runner.address,
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            str(self.execution_timeout),
            "--graceful-timeout",
            "5",
            "--name",
            f"nil-{runner.name}",
            "--no-control-socket",
            "runner.wsgi:app",
        ]
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        runner.proc = subprocess.Popen(argv, env=env, start_new_session=True)
        runner.started_at = time.monotonic()
        runner.failures = 0
        runner.healthy = False
        if self.limits is not None:
            placed = cgroups.apply(runner.proc.pid, runner.name, self.limits)
            if self.cgroups_enabled is None:
                self.cgroups_enabled = placed
                logger.info("runner.cgroups", extra={"enabled": placed})
        logger.info("runner.started", extra={"runner": runner.name, "pid": runner.proc.pid})

    def check(self) -> None:
        """One round: replace runners that exited or keep failing their health check."""
        for runner in self.runners:
            assert runner.proc is not None
            code = runner.proc.poll()
            if code is not None:
                logger.warning("runner.exited", extra={"runner": runner.name, "code": code})
                self._replace(runner)
                continue
            runner.healthy = self._probe(runner)
            if runner.healthy:
                runner.failures = 0
            elif time.monotonic() - runner.started_at > 10:
                runner.failures += 1
                if runner.failures >= 8:
                    logger.warning("runner.unresponsive", extra={"runner": runner.name})
                    self._kill(runner)
                    self._replace(runner)
        self._write_state()

    def _probe(self, runner: RunnerProcess) -> bool:
        if not runner.socket.exists():
            return False
        try:
            status, _ = unix_http.request(runner.address, "GET", "/health", timeout=2.0)
        except OSError:
            return False
        return status == 200

    def _replace(self, runner: RunnerProcess) -> None:
        runner.replacements += 1
        self._spawn(runner)

    def _kill(self, runner: RunnerProcess) -> None:
        if runner.proc is None or runner.proc.poll() is not None:
            return
        try:
            os.killpg(runner.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        runner.proc.wait(timeout=5)

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "runners": [
                {
                    "name": r.name,
                    "address": r.address,
                    "healthy": r.healthy,
                    "replacements": r.replacements,
                    "pid": r.proc.pid if r.proc else None,
                }
                for r in self.runners
            ],
        }
        tmp = self.dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.dir / STATE_FILE)

    def run(self) -> None:
        while not self.stop_flag.wait(self.check_interval):
            self.check()

    def stop(self) -> None:
        for runner in self.runners:
            if runner.proc is not None and runner.proc.poll() is None:
                runner.proc.terminate()
        deadline = time.monotonic() + 6
        for runner in self.runners:
            if runner.proc is None:
                continue
            try:
                runner.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._kill(runner)
            runner.socket.unlink(missing_ok=True)
        (self.dir / STATE_FILE).unlink(missing_ok=True)


def main() -> None:
    from common.logging import configure_logging

    configure_logging("supervisor", env_str("NIL_LOG_LEVEL", "INFO") or "INFO")
    home = env_str("NIL_HOME", ".nil") or ".nil"
    limits = cgroups.CgroupLimits(
        memory_bytes=env_int("NIL_RUNNER_MEMORY_MB", 1024) * 1024 * 1024,
        pids=env_int("NIL_RUNNER_PIDS", 64),
        cpu_quota=env_float("NIL_RUNNER_CPUS", 1.0),
    )
    supervisor = LocalSupervisor(
        env_str("NIL_RUNNER_DIR", f"{home}/runners") or f"{home}/runners",
        env_int("NIL_RUNNERS", 2),
        limits=limits,
    )
    supervisor.stop_flag.install_signal_handlers()
    supervisor.start()
    logger.info(
        "supervisor.started", extra={"runners": len(supervisor.runners), "dir": str(supervisor.dir)}
    )
    try:
        supervisor.run()
    finally:
        supervisor.stop()
        logger.info("supervisor.stopped")


if __name__ == "__main__":
    main()
