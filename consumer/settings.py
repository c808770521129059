"""The consumer's settings: its health/metrics address, how long a read result stays
invisible, and the runner client (its warmer dispatches to runners)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.config import env_int, env_str
from common.settings import RunnerClientSettings


@dataclass(frozen=True)
class Settings(RunnerClientSettings):
    health_host: str = "127.0.0.1"
    health_port: int = 8082
    # How long a read result stays invisible to other consumers; three quarters of it
    # bound warming a runner with a new artifact.
    visibility_seconds: int = 60

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        return {
            **super().read_env(),
            "health_host": env_str("NIL_CONSUMER_HOST", cls.health_host),
            "health_port": env_int("NIL_CONSUMER_PORT", cls.health_port),
            "visibility_seconds": env_int(
                "NIL_CONSUMER_VISIBILITY_SECONDS", cls.visibility_seconds
            ),
        }
