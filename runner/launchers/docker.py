"""Runners as Docker containers: no network, read-only root, no capabilities, non-root,
pids/memory/CPU limits; the sockets (runner.sock, metrics.sock) live in a bind-mounted
directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from common import runner_dir as rd
from runner.launchers.base import RunnerHandle
from runner.settings import GRACEFUL_SECONDS, RUN_DIR, SupervisorSettings

LABEL = "dev.nil.runner"
CONTAINER_ARTIFACTS = "/var/cache/nil/artifacts"
# The Docker API answers a create only after the storage driver has laid out the
# container's root; a copying driver (vfs, as on hosts without overlayfs) takes more
# than the SDK's default 60 s for a large image on a loaded machine.
DOCKER_API_TIMEOUT_SECONDS = 300


def docker_client():
    """A Docker SDK client for the environment's engine, patient with slow creates."""
    import docker

    return docker.from_env(timeout=DOCKER_API_TIMEOUT_SECONDS)


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

    def terminate(self) -> None:
        try:
            self.container.kill(signal="SIGTERM")  # the keeper drains its worker, then exits
        except Exception:  # gone already
            pass

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

    runs_as_supervisor = False  # the image's uid: the socket directory must let it in

    def __init__(
        self,
        image: str,
        pool_name: str,
        limits: ContainerLimits,
        uid: int = 10001,
        client=None,
        log_level: str = "INFO",
        graceful_seconds: float = GRACEFUL_SECONDS,
    ) -> None:
        self.client = client or docker_client()
        self.image = image
        self.pool_name = pool_name
        self.limits = limits
        self.uid = uid
        self.log_level = log_level
        self.graceful_seconds = graceful_seconds

    @classmethod
    def from_settings(cls, settings: SupervisorSettings) -> Self:
        limits = ContainerLimits(
            memory_bytes=settings.memory_mb * 1024 * 1024,
            nano_cpus=int(settings.cpus * 1e9),
            pids=settings.pids,
        )
        return cls(
            settings.image,
            settings.pool_name,
            limits,
            log_level=settings.log_level,
            graceful_seconds=settings.graceful_seconds,
        )

    def launch(self, name: str, directory: Path, function_id: str | None = None) -> ContainerHandle:
        (directory / rd.SOCKET).unlink(missing_ok=True)
        if os.geteuid() == 0:  # else the directory is ours already
            os.chown(directory, self.uid, self.uid)
        directory.chmod(0o755)
        container = self.client.containers.run(
            self.image,
            detach=True,
            name=f"nil-{self.pool_name}-{name}",
            labels={
                LABEL: "1",
                f"{LABEL}.pool": self.pool_name,
                f"{LABEL}.name": name,
                f"{LABEL}.function": function_id or "",
            },
            network_mode="none",
            init=True,  # docker-init as PID 1: it reaps, and passes SIGTERM on
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
                str(directory): {"bind": RUN_DIR, "mode": "rw"},
                # compiled artifacts, shared by this pool's runners only
                f"nil-{self.pool_name}-artifacts": {"bind": CONTAINER_ARTIFACTS, "mode": "rw"},
            },
            # the runner's default NIL_RUNNER_BIND (and its metrics socket) are in RUN_DIR
            environment={
                "NIL_RUNNER_ARTIFACT_DIR": CONTAINER_ARTIFACTS,
                "NIL_RUNNER_GRACEFUL_SECONDS": str(self.graceful_seconds),
                "NIL_LOG_LEVEL": self.log_level,
            },
        )
        return ContainerHandle(name, container, function_id)

    def adopt(self) -> list[RunnerHandle]:
        """Containers a previous supervisor of this pool left behind."""
        found = self.client.containers.list(
            all=True, filters={"label": f"{LABEL}.pool={self.pool_name}"}
        )
        return [
            ContainerHandle(
                c.labels.get(f"{LABEL}.name", c.name), c, c.labels.get(f"{LABEL}.function") or None
            )
            for c in found
        ]
