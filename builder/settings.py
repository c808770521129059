"""The builder's configuration, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import database_url, env_float, env_int, env_str


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    compile_timeout_seconds: float = 60.0
    max_reads: int = 5
    health_port: int = 8081
    log_level: str = "INFO"
    visibility_seconds: int | None = None

    @property
    def visibility_timeout(self) -> int:
        """Longer than a compile can take, so a job is not redelivered while compiling."""
        return self.visibility_seconds or int(self.compile_timeout_seconds) + 30

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=database_url(),
            compile_timeout_seconds=env_float("NIL_COMPILE_TIMEOUT_SECONDS", 60.0),
            max_reads=env_int("NIL_BUILDER_MAX_READS", 5),
            health_port=env_int("NIL_BUILDER_PORT", 8081),
            log_level=env_str("NIL_LOG_LEVEL", "INFO") or "INFO",
            visibility_seconds=env_int("NIL_BUILDER_VISIBILITY_SECONDS", 0) or None,
        )
