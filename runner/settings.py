"""The settings of the runner process and of the supervisor that keeps runners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common import runner_dir as rd
from common.config import env_float, env_int, env_str
from common.contracts import MAX_MODULE_BYTES
from common.settings import ServiceSettings

RUN_DIR = "/run/nil"  # where a runner in a container serves its socket (a mounted directory)


@dataclass(frozen=True)
class Settings(ServiceSettings):
    """One runner process (`python -m runner`)."""

    bind: str = f"unix:{RUN_DIR}/{rd.SOCKET}"  # unix:/path or host:port
    request_timeout_seconds: int = 120  # gunicorn's worker timeout
    cache_bytes: int = 256 * 1024 * 1024
    cache_entries: int = 256
    max_wasm_stack: int = 512 * 1024
    max_output_bytes: int = 6 * 1024 * 1024
    max_module_bytes: int = MAX_MODULE_BYTES
    max_log_bytes: int = 64 * 1024
    epoch_tick_ms: int = 5
    max_table_elements: int = 100_000
    max_instances: int = 10
    artifact_dir: str | None = None  # compiled artifacts shared by this host's runners
    # With an artifact directory, artifacts this large compile in a child process
    # (a Python component: ~400 MB of compiler memory the runner would keep).
    compile_in_child_bytes: int = 4 * 1024 * 1024

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        return {
            **super().read_env(),
            "bind": env_str("NIL_RUNNER_BIND", cls.bind),
            "request_timeout_seconds": env_int(
                "NIL_RUNNER_REQUEST_TIMEOUT", cls.request_timeout_seconds
            ),
            "artifact_dir": env_str("NIL_RUNNER_ARTIFACT_DIR", cls.artifact_dir),
            "cache_bytes": env_int("NIL_RUNNER_CACHE_BYTES", cls.cache_bytes),
            "cache_entries": env_int("NIL_RUNNER_CACHE_ENTRIES", cls.cache_entries),
            "max_wasm_stack": env_int("NIL_RUNNER_MAX_WASM_STACK", cls.max_wasm_stack),
            "max_output_bytes": env_int("NIL_MAX_OUTPUT_BYTES", cls.max_output_bytes),
        }


@dataclass(frozen=True)
class SupervisorSettings(ServiceSettings):
    """The supervisor (`python -m runner.supervisor`): how many runners, with what limits;
    the launcher is chosen by NIL_POOL_BACKEND (common/settings.py)."""

    min_runners: int = 2
    max_runners: int = 4
    idle_seconds: float = 60.0
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 64
    image: str = "nil-runner:dev"  # docker launcher
    pool_name: str = "default"  # docker launcher: labels the containers it may adopt

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        minimum = env_int("NIL_RUNNERS", cls.min_runners)
        return {
            **super().read_env(),
            "min_runners": minimum,
            "max_runners": env_int("NIL_RUNNERS_MAX", max(minimum, cls.max_runners)),
            "idle_seconds": env_float("NIL_RUNNER_IDLE_SECONDS", cls.idle_seconds),
            "memory_mb": env_int("NIL_RUNNER_MEMORY_MB", cls.memory_mb),
            "cpus": env_float("NIL_RUNNER_CPUS", cls.cpus),
            "pids": env_int("NIL_RUNNER_PIDS", cls.pids),
            "image": env_str("NIL_RUNNER_IMAGE", cls.image),
            "pool_name": env_str("NIL_POOL_NAME", cls.pool_name),
        }
