"""How runners are started: a registry of launchers, one module each. The platform's
choice is made by NIL_POOL_BACKEND (common/settings.py, POOL_BACKENDS); backends whose
runners something else starts (a Kubernetes Deployment, a fixed list) have none."""

from __future__ import annotations

from runner.launchers.base import Launcher, RunnerHandle
from runner.launchers.docker import LABEL, ContainerLimits, DockerLauncher
from runner.launchers.process import ProcessLauncher
from runner.settings import SupervisorSettings

LAUNCHERS: dict[str, type[Launcher]] = {
    "process": ProcessLauncher,
    "docker": DockerLauncher,
}

__all__ = [
    "LABEL",
    "LAUNCHERS",
    "ContainerLimits",
    "DockerLauncher",
    "Launcher",
    "ProcessLauncher",
    "RunnerHandle",
    "make_launcher",
]


def make_launcher(settings: SupervisorSettings) -> Launcher:
    if settings.launcher is None:
        raise ValueError(
            f"NIL_POOL_BACKEND={settings.pool_backend} starts no runners: they are started"
            " elsewhere, and no supervisor is needed"
        )
    return LAUNCHERS[settings.launcher].from_settings(settings)
