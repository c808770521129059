"""The consumer's settings: its health/metrics address, how long a read result stays
invisible, and the runner client (its warmer dispatches to runners)."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import ConfigError
from common.settings import RunnerClientSettings, env


@dataclass(frozen=True)
class Settings(RunnerClientSettings):
    health_host: str = env("NIL_CONSUMER_HOST", "127.0.0.1")
    health_port: int = env("NIL_CONSUMER_PORT", 8082)
    # How long a read result stays invisible to other consumers; three quarters of it
    # bound warming a runner with a new artifact.
    visibility_seconds: int = env("NIL_CONSUMER_VISIBILITY_SECONDS", 60)
    # Executions (and archived queue messages) older than this are deleted (SPEC §10).
    execution_retention_days: int = env("NIL_EXECUTION_RETENTION_DAYS", 30)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.execution_retention_days < 1:
            raise ConfigError("NIL_EXECUTION_RETENTION_DAYS must be at least 1")
