"""How the supervisor starts one runner: a local process, or a Docker container.

Every runner gets its own directory `<runner_dir>/<name>/` holding `runner.sock`;
gateways find runners by those sockets. A launcher returns a handle the supervisor
polls (`alive`), and stops or kills.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runner import cgroups

logger = logging.getLogger(__name__)
SOCKET = "runner.sock"
LABEL = "dev.nil.runner"
ARTIFACTS = "artifacts"  # next to the runner directories: compiled artifacts of the host
CONTAINER_ARTIFACTS = "/var/cache/nil/artifacts"


class RunnerHandle(Protocol):
    name: str
    function_id: str | None  # set for a runner dedicated to one function

    def alive(self) -> bool: ...

    def exit_reason(self) -> str: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    def launch(
        self, name: str, directory: Path, function_id: str | None = None
    ) -> RunnerHandle: ...

    def adopt(self) -> list[RunnerHandle]: ...


# ---------------------------------------------------------------- local processes


@dataclass
class ProcessHandle:
    name: str
    proc: subprocess.Popen
    function_id: str | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_reason(self) -> str:
        return f"exit code {self.proc.poll()}"

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=6)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)


class ProcessLauncher:
    """Runner processes (gunicorn, one sync worker), each in its own cgroup if allowed."""

    def __init__(
        self, limits: cgroups.CgroupLimits | None = None, request_timeout: int = 120
    ) -> None:
        self.limits = limits
        self.request_timeout = request_timeout
        self.cgroups_enabled: bool | None = None

    def launch(self, name: str, directory: Path, function_id: str | None = None) -> ProcessHandle:
        (directory / SOCKET).unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env["NIL_RUNNER_BIND"] = f"unix:{directory / SOCKET}"
        env["NIL_RUNNER_REQUEST_TIMEOUT"] = str(self.request_timeout)
        env.setdefault("NIL_RUNNER_ARTIFACT_DIR", str(directory.parent / ARTIFACTS))
        proc = subprocess.Popen([sys.executable, "-m", "runner"], env=env, start_new_session=True)
        if self.limits is not None:
            placed = cgroups.apply(proc.pid, name, self.limits)
            if self.cgroups_enabled is None:
                self.cgroups_enabled = placed
                logger.info("runner.cgroups", extra={"enabled": placed})
        return ProcessHandle(name, proc, function_id)

    def adopt(self) -> list[RunnerHandle]:
        return []  # processes die with their session; nothing to adopt


# ---------------------------------------------------------------- Docker containers


@dataclass(frozen=True)
class ContainerLimits:
    memory_bytes: int = 256 * 1024 * 1024
    nano_cpus: int = 1_000_000_000
    pids: int = 64
    tmpfs_size: str = "16m"


@dataclass
class ContainerHandle:
    name: str
    container: object  # docker.models.containers.Container
    function_id: str | None = None

    def _state(self) -> dict:
        try:
            self.container.reload()
        except Exception:  # gone
            return {"Status": "removed"}
        return self.container.attrs.get("State", {})

    def alive(self) -> bool:
        return self._state().get("Status") == "running"

    def exit_reason(self) -> str:
        state = self._state()
        if state.get("OOMKilled"):
            return "OOM-killed"
        return f"{state.get('Status')} (exit code {state.get('ExitCode')})"

    def stop(self) -> None:
        try:
            self.container.stop(timeout=5)
        except Exception:
            pass
        self._remove()

    def kill(self) -> None:
        self._remove()

    def _remove(self) -> None:
        try:
            self.container.remove(force=True)
        except Exception:
            pass


class DockerLauncher:
    """Runner containers: no network, read-only root, no capabilities, non-root,
    pids/memory/CPU limits; the socket lives in a bind-mounted directory."""

    def __init__(
        self, image: str, pool: str, limits: ContainerLimits, uid: int = 10001, client=None
    ) -> None:
        import docker

        self.client = client or docker.from_env()
        self.image = image
        self.pool = pool
        self.limits = limits
        self.uid = uid

    def launch(self, name: str, directory: Path, function_id: str | None = None) -> ContainerHandle:
        (directory / SOCKET).unlink(missing_ok=True)
        if os.geteuid() == 0:  # else the directory is ours already
            os.chown(directory, self.uid, self.uid)
        directory.chmod(0o755)
        container = self.client.containers.run(
            self.image,
            detach=True,
            name=f"nil-{self.pool}-{name}",
            labels={
                LABEL: "1",
                f"{LABEL}.pool": self.pool,
                f"{LABEL}.name": name,
                f"{LABEL}.function": function_id or "",
            },
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"size={self.limits.tmpfs_size},mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            user=f"{self.uid}:{self.uid}",
            pids_limit=self.limits.pids,
            mem_limit=self.limits.memory_bytes,
            memswap_limit=self.limits.memory_bytes,
            nano_cpus=self.limits.nano_cpus,
            volumes={
                str(directory): {"bind": "/run/nil", "mode": "rw"},
                # compiled artifacts, shared by this pool's runners only
                f"nil-{self.pool}-artifacts": {"bind": CONTAINER_ARTIFACTS, "mode": "rw"},
            },
            environment={
                "NIL_RUNNER_BIND": "unix:/run/nil/runner.sock",
                "NIL_RUNNER_ARTIFACT_DIR": CONTAINER_ARTIFACTS,
                "NIL_LOG_LEVEL": os.environ.get("NIL_LOG_LEVEL", "INFO"),
            },
        )
        return ContainerHandle(name, container, function_id)

    def adopt(self) -> list[RunnerHandle]:
        """Containers a previous supervisor of this pool left behind."""
        found = self.client.containers.list(
            all=True, filters={"label": f"{LABEL}.pool={self.pool}"}
        )
        return [
            ContainerHandle(
                c.labels.get(f"{LABEL}.name", c.name), c, c.labels.get(f"{LABEL}.function") or None
            )
            for c in found
        ]
