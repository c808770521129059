"""The scheduler's settings: how often it looks for due ticks, how many it fires per
look, its health address — and, for tests only, a clock read from a file."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import ConfigError
from common.settings import ServiceSettings, env


@dataclass(frozen=True)
class Settings(ServiceSettings):
    health_host: str = env("NIL_SCHEDULER_HOST", "127.0.0.1")
    health_port: int = env("NIL_SCHEDULER_PORT", 8085)
    # Longest sleep between looks for due ticks (it sleeps less when one is due sooner)
    poll_seconds: float = env("NIL_SCHEDULER_POLL_SECONDS", 1.0)
    batch: int = env("NIL_SCHEDULER_BATCH", 100)  # due schedules fired per look
    # Tests only: read "now" (an RFC 3339 timestamp) from this file instead of the clock,
    # so tests advance time across scheduler processes without waiting minutes.
    clock_file: str = env("NIL_SCHEDULER_CLOCK_FILE", "")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.poll_seconds <= 0:
            raise ConfigError("NIL_SCHEDULER_POLL_SECONDS must be positive")
        if self.batch < 1:
            raise ConfigError("NIL_SCHEDULER_BATCH must be at least 1")
