"""Runners as local processes (`python -m runner`: a keeper and its worker), each in its
own cgroup where the machine lets this process create one."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from common import runner_dir as rd
from runner import cgroups
from runner.launchers.base import ARTIFACTS, RunnerHandle
from runner.settings import SupervisorSettings

logger = logging.getLogger(__name__)


@dataclass
class ProcessHandle:
    name: str
    proc: subprocess.Popen
    function_id: str | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_reason(self) -> str:
        return f"exit code {self.proc.poll()}"

    def terminate(self) -> None:
        if self.alive():
            self.proc.terminate()  # the keeper drains its worker, then exits

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        cgroups.remove(self.name)


class ProcessLauncher:
    """Runner processes, each in its own cgroup if allowed."""

    runs_as_supervisor = True

    def __init__(self, limits: cgroups.CgroupLimits | None = None) -> None:
        self.limits = limits
        self.cgroups_enabled: bool | None = None

    @classmethod
    def from_settings(cls, settings: SupervisorSettings) -> Self:
        return cls(
            cgroups.CgroupLimits(
                memory_bytes=settings.memory_mb * 1024 * 1024,
                pids=settings.pids,
                cpu_quota=settings.cpus,
            )
        )

    def launch(self, name: str, directory: Path, function_id: str | None = None) -> ProcessHandle:
        (directory / rd.SOCKET).unlink(missing_ok=True)
        # The runner inherits this environment, less the gateway's metrics directory and
        # the secrets keys (a runner gets a call's secrets with the call, never the key).
        dropped = {"PROMETHEUS_MULTIPROC_DIR", "NIL_SECRETS_KEY", "NIL_SECRETS_OLD_KEYS"}
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env["NIL_RUNNER_BIND"] = rd.socket_address(directory)
        env.setdefault("NIL_RUNNER_ARTIFACT_DIR", str(directory.parent / ARTIFACTS))
        env["NIL_RUNNER_PARENT_PID"] = str(os.getpid())  # it drains if this process dies
        proc = subprocess.Popen([sys.executable, "-m", "runner"], env=env, start_new_session=True)
        if self.limits is not None:
            placed = cgroups.apply(proc.pid, name, self.limits)
            if self.cgroups_enabled is None:
                self.cgroups_enabled = placed
                logger.info("runner.cgroups", extra={"enabled": placed})
        return ProcessHandle(name, proc, function_id)

    def adopt(self) -> list[RunnerHandle]:
        return []  # processes die with their session; nothing to adopt
