"""The runner's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import env_int, env_str


@dataclass(frozen=True)
class Settings:
    cache_bytes: int = 256 * 1024 * 1024
    cache_entries: int = 256
    max_wasm_stack: int = 512 * 1024
    max_output_bytes: int = 6 * 1024 * 1024
    max_log_bytes: int = 64 * 1024
    epoch_tick_ms: int = 5
    max_table_elements: int = 100_000
    max_instances: int = 10
    log_level: str = "INFO"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            cache_bytes=env_int("NIL_RUNNER_CACHE_BYTES", cls.cache_bytes),
            cache_entries=env_int("NIL_RUNNER_CACHE_ENTRIES", cls.cache_entries),
            max_wasm_stack=env_int("NIL_RUNNER_MAX_WASM_STACK", cls.max_wasm_stack),
            max_output_bytes=env_int("NIL_MAX_OUTPUT_BYTES", cls.max_output_bytes),
            log_level=env_str("NIL_LOG_LEVEL", cls.log_level) or cls.log_level,
        )
