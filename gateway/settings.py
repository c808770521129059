"""The gateway's settings: the API's limits and keys, gunicorn's shape, the runner client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.config import env_bool, env_float, env_int, env_list, env_str
from common.settings import RunnerClientSettings

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings(RunnerClientSettings):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2  # gunicorn processes
    threads: int = 8  # threads per process
    # With a launcher backend (local, docker), the gunicorn master starts the runner
    # supervisor; off when the supervisor runs as a process of its own.
    supervise_runners: bool = True
    db_pool_min: int = 1
    db_pool_max: int = 10
    max_body_bytes: int = 6 * MIB
    max_source_bytes: int = 1 * MIB
    max_input_bytes: int = 1 * MIB
    default_timeout_ms: int = 10_000
    max_timeout_ms: int = 60_000
    default_memory_mb: int = 64
    max_memory_mb: int = 512
    default_fuel: int = 2_000_000_000
    max_fuel: int = 200_000_000_000
    api_keys: tuple[str, ...] = ()
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        return {
            **super().read_env(),
            "host": env_str("NIL_HOST", cls.host),
            "port": env_int("PORT", cls.port),
            "workers": env_int("NIL_GATEWAY_WORKERS", cls.workers),
            "threads": env_int("NIL_GATEWAY_THREADS", cls.threads),
            "supervise_runners": env_bool("NIL_SUPERVISE_RUNNERS", cls.supervise_runners),
            "db_pool_min": env_int("NIL_DB_POOL_MIN", cls.db_pool_min),
            "db_pool_max": env_int("NIL_DB_POOL_MAX", cls.db_pool_max),
            "max_body_bytes": env_int("NIL_MAX_BODY_BYTES", cls.max_body_bytes),
            "max_source_bytes": env_int("NIL_MAX_SOURCE_BYTES", cls.max_source_bytes),
            "max_input_bytes": env_int("NIL_MAX_INPUT_BYTES", cls.max_input_bytes),
            "default_timeout_ms": env_int("NIL_DEFAULT_TIMEOUT_MS", cls.default_timeout_ms),
            "max_timeout_ms": env_int("NIL_MAX_TIMEOUT_MS", cls.max_timeout_ms),
            "default_memory_mb": env_int("NIL_DEFAULT_MEMORY_MB", cls.default_memory_mb),
            "max_memory_mb": env_int("NIL_MAX_MEMORY_MB", cls.max_memory_mb),
            "default_fuel": env_int("NIL_DEFAULT_FUEL", cls.default_fuel),
            "max_fuel": env_int("NIL_MAX_FUEL", cls.max_fuel),
            "api_keys": env_list("NIL_API_KEYS"),
            "rate_limit_per_second": env_float(
                "NIL_RATE_LIMIT_PER_SECOND", cls.rate_limit_per_second
            ),
            "rate_limit_burst": env_int("NIL_RATE_LIMIT_BURST", cls.rate_limit_burst),
        }
