"""The settings of the runner process and of the supervisor that keeps runners."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common import runner_dir as rd
from common.contracts import MAX_MODULE_BYTES
from common.settings import ServiceSettings, env

RUN_DIR = "/run/nil"  # where a runner in a container serves its socket (a mounted directory)
# How long a stopping runner may take to finish its call in flight: the longest function
# timeout (NIL_MAX_TIMEOUT_MS, 60 s) plus the watchdog's grace and a margin.
GRACEFUL_SECONDS = 75.0


@dataclass(frozen=True)
class Settings(ServiceSettings):
    """One runner process (`python -m runner`)."""

    bind: str = env("NIL_RUNNER_BIND", f"unix:{RUN_DIR}/{rd.SOCKET}")  # or host:port
    # Metrics (and a health page), never execution: "" is metrics.sock beside a unix
    # bind's socket, and no metrics listener beside a TCP bind (give host:port there).
    metrics_bind: str = env("NIL_RUNNER_METRICS_BIND", "")
    graceful_seconds: float = env("NIL_RUNNER_GRACEFUL_SECONDS", GRACEFUL_SECONDS)
    # The supervisor that launched this runner as a local process (0: none, as in a
    # container or a pod): a runner whose parent is gone drains and exits (runner/keeper.py).
    parent_pid: int = env("NIL_RUNNER_PARENT_PID", 0)
    # a module load (a compile: seconds for a Python component) past this replaces the worker
    load_timeout_seconds: int = env("NIL_RUNNER_LOAD_TIMEOUT", 120)
    cache_bytes: int = env("NIL_RUNNER_CACHE_BYTES", 256 * 1024 * 1024)
    cache_entries: int = env("NIL_RUNNER_CACHE_ENTRIES", 256)
    max_wasm_stack: int = env("NIL_RUNNER_MAX_WASM_STACK", 512 * 1024)
    max_output_bytes: int = env("NIL_MAX_OUTPUT_BYTES", 6 * 1024 * 1024)
    # compiled artifacts shared by this host's runners
    artifact_dir: str | None = env("NIL_RUNNER_ARTIFACT_DIR", None)
    # past this many MiB the store prunes its least recently used artifacts (the chart
    # keeps the artifacts emptyDir's sizeLimit above it, so pruning never evicts the pod)
    artifact_max_mb: int = env("NIL_RUNNER_ARTIFACT_MAX_MB", 4096)
    max_module_bytes: int = MAX_MODULE_BYTES
    max_log_bytes: int = 64 * 1024
    epoch_tick_ms: int = 5
    max_table_elements: int = 100_000
    max_instances: int = 10
    # With an artifact directory, artifacts this large compile in a child process
    # (a Python component: ~400 MB of compiler memory the runner would keep).
    compile_in_child_bytes: int = 4 * 1024 * 1024
    # Components compile on the baseline tier first (Winch: seconds, so a Python function
    # is READY sooner), then on the optimized tier (Cranelift) in a background child
    # process whose artifact replaces the baseline one when done (runner/engine.py).
    baseline_components: bool = True
    optimize_in_background: bool = True
    # Between calls, the next instance of the component called last is made ahead (used
    # by one call at most, then dropped: runner/executor.py, Executor.idle).
    prepare_instances: bool = True
    # A call still running this long after its deadline is answered as a timeout by the
    # watchdog, and the worker is replaced (timeoutMs + at most 250 ms, reply included).
    watchdog_grace_ms: int = 200
    hold_seconds: float = 10.0  # a runner stays reserved between NOT_CACHED and the LOAD
    linger_seconds: float = 0.5  # a drained runner exits once its connections are this quiet
    hang_seconds: float = 10.0  # a worker silent this long (no heartbeat) is killed
    max_connections: int = 512

    @property
    def metrics_address(self) -> str | None:
        if self.metrics_bind:
            return self.metrics_bind
        if self.bind.startswith("unix:"):
            return f"unix:{Path(self.bind[5:]).parent / rd.METRICS_SOCKET}"
        return None


@dataclass(frozen=True)
class SupervisorSettings(ServiceSettings):
    """The supervisor (`python -m runner.supervisor`): how many runners, with what limits;
    the launcher is chosen by NIL_POOL_BACKEND (common/settings.py)."""

    min_runners: int = env("NIL_RUNNERS", 2)
    # Dedicated runners at most; past it the least recently used idle one is retired to
    # make room, and when every one is busy the new function's calls get 503.
    max_dedicated: int = env("NIL_DEDICATED_RUNNERS_MAX", 8)
    max_runners: int = env("NIL_RUNNERS_MAX", 4)  # never below min_runners
    idle_seconds: float = env("NIL_RUNNER_IDLE_SECONDS", 60.0)
    memory_mb: int = env("NIL_RUNNER_MEMORY_MB", 1024)
    cpus: float = env("NIL_RUNNER_CPUS", 1.0)
    pids: int = env("NIL_RUNNER_PIDS", 64)
    image: str = env("NIL_RUNNER_IMAGE", "nil-runner:dev")  # docker launcher
    # docker launcher: labels the containers a restarted supervisor may adopt
    pool_name: str = env("NIL_POOL_NAME", "default")
    graceful_seconds: float = env("NIL_RUNNER_GRACEFUL_SECONDS", GRACEFUL_SECONDS)
    # One scrapable endpoint with every runner's metrics, labelled by `runner`.
    host: str = env("NIL_SUPERVISOR_HOST", "127.0.0.1")
    port: int = env("NIL_SUPERVISOR_PORT", 8083)
