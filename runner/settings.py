"""The runner's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import env_float, env_int, env_str
from common.contracts import MAX_MODULE_BYTES


@dataclass(frozen=True)
class Settings:
    cache_bytes: int = 256 * 1024 * 1024
    cache_entries: int = 256
    max_wasm_stack: int = 512 * 1024
    max_output_bytes: int = 6 * 1024 * 1024
    max_module_bytes: int = MAX_MODULE_BYTES
    max_log_bytes: int = 64 * 1024
    epoch_tick_ms: int = 5
    max_table_elements: int = 100_000
    max_instances: int = 10
    log_level: str = "INFO"
    artifact_dir: str | None = None  # compiled artifacts shared by this host's runners
    # With an artifact directory, artifacts this large compile in a child process
    # (a Python component: ~400 MB of compiler memory the runner would keep).
    compile_in_child_bytes: int = 4 * 1024 * 1024

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            artifact_dir=env_str("NIL_RUNNER_ARTIFACT_DIR", "") or None,
            cache_bytes=env_int("NIL_RUNNER_CACHE_BYTES", cls.cache_bytes),
            cache_entries=env_int("NIL_RUNNER_CACHE_ENTRIES", cls.cache_entries),
            max_wasm_stack=env_int("NIL_RUNNER_MAX_WASM_STACK", cls.max_wasm_stack),
            max_output_bytes=env_int("NIL_MAX_OUTPUT_BYTES", cls.max_output_bytes),
            log_level=env_str("NIL_LOG_LEVEL", cls.log_level) or cls.log_level,
        )


@dataclass(frozen=True)
class PoolSettings:
    """The supervisor's settings: which launcher, how many runners, what limits."""

    backend: str = "local"  # local | docker
    runner_dir: str = ".nil/runners"
    min_runners: int = 2
    max_runners: int = 4
    idle_seconds: float = 60.0
    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 64
    image: str = "nil-runner:dev"
    pool_name: str = "default"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls) -> PoolSettings:
        home = env_str("NIL_HOME", ".nil") or ".nil"
        minimum = env_int("NIL_RUNNERS", cls.min_runners)
        return cls(
            backend=env_str("NIL_POOL_BACKEND", cls.backend) or cls.backend,
            runner_dir=env_str("NIL_RUNNER_DIR", f"{home}/runners") or f"{home}/runners",
            min_runners=minimum,
            max_runners=env_int("NIL_RUNNERS_MAX", max(minimum, cls.max_runners)),
            idle_seconds=env_float("NIL_RUNNER_IDLE_SECONDS", cls.idle_seconds),
            memory_mb=env_int("NIL_RUNNER_MEMORY_MB", cls.memory_mb),
            cpus=env_float("NIL_RUNNER_CPUS", cls.cpus),
            pids=env_int("NIL_RUNNER_PIDS", cls.pids),
            image=env_str("NIL_RUNNER_IMAGE", cls.image) or cls.image,
            pool_name=env_str("NIL_POOL_NAME", cls.pool_name) or cls.pool_name,
            log_level=env_str("NIL_LOG_LEVEL", cls.log_level) or cls.log_level,
        )

    def launcher(self):
        from runner import cgroups, launchers

        if self.backend == "docker":
            limits = launchers.ContainerLimits(
                memory_bytes=self.memory_mb * 1024 * 1024,
                nano_cpus=int(self.cpus * 1e9),
                pids=self.pids,
            )
            return launchers.DockerLauncher(self.image, self.pool_name, limits)
        if self.backend == "local":
            return launchers.ProcessLauncher(
                cgroups.CgroupLimits(
                    memory_bytes=self.memory_mb * 1024 * 1024, pids=self.pids, cpu_quota=self.cpus
                )
            )
        raise ValueError(f"unknown NIL_POOL_BACKEND {self.backend!r}")
