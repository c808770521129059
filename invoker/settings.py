"""The invocation workers' settings: how many executions run at once, the queue's
timing, the health address, and the runner client."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import ConfigError
from common.settings import RunnerClientSettings, env


@dataclass(frozen=True)
class Settings(RunnerClientSettings):
    health_host: str = env("NIL_INVOKER_HOST", "127.0.0.1")
    health_port: int = env("NIL_INVOKER_PORT", 8084)
    concurrency: int = env("NIL_INVOKER_CONCURRENCY", 4)  # executions at once
    # How long a read message stays invisible before its claim extends it to the
    # function's timeout plus `visibility_margin_seconds`.
    read_visibility_seconds: int = env("NIL_INVOKER_READ_VISIBILITY_SECONDS", 30)
    visibility_margin_seconds: float = env("NIL_INVOKER_VISIBILITY_MARGIN_SECONDS", 10.0)

    @property
    def lease_margin_seconds(self) -> float:
        """What an attempt's lease adds to the function's timeout: the margin, and the
        longest wait for a free runner (an attempt waits that long before it runs)."""
        return self.visibility_margin_seconds + self.runner_wait_ms / 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.concurrency < 1:
            raise ConfigError("NIL_INVOKER_CONCURRENCY must be at least 1")
        if self.read_visibility_seconds < 1:
            raise ConfigError("NIL_INVOKER_READ_VISIBILITY_SECONDS must be at least 1")
