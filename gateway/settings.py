"""The gateway's configuration: defaults, then the environment, then the caller's mapping."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from common.config import database_url, env_float, env_int, env_list, env_str

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    db_pool_min: int = 1
    db_pool_max: int = 10
    log_level: str = "INFO"
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
    # Runner pool (see gateway/pool): backend name and its settings.
    pool_backend: str = "local"
    runner_dir: str = ".nil/runners"
    runner_count: int = 2
    runner_wait_seconds: float = 5.0
    runner_endpoints: tuple[str, ...] = ()
    runner_service: str = ""

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None) -> Settings:
        home = env_str("NIL_HOME", ".nil") or ".nil"
        values: dict[str, Any] = {
            "database_url": database_url(),
            "db_pool_min": env_int("NIL_DB_POOL_MIN", cls.db_pool_min),
            "db_pool_max": env_int("NIL_DB_POOL_MAX", cls.db_pool_max),
            "log_level": env_str("NIL_LOG_LEVEL", cls.log_level),
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
            "pool_backend": env_str("NIL_POOL_BACKEND", cls.pool_backend),
            "runner_dir": env_str("NIL_RUNNER_DIR", f"{home}/runners"),
            "runner_count": env_int("NIL_RUNNERS", cls.runner_count),
            "runner_wait_seconds": float(env_int("NIL_RUNNER_WAIT_MS", 5000)) / 1000,
            "runner_endpoints": env_list("NIL_RUNNER_ENDPOINTS"),
            "runner_service": env_str("NIL_RUNNER_SERVICE", "") or "",
        }
        values.update(overrides or {})
        return dataclasses.replace(cls(), **values)
