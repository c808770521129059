"""The settings every service shares, and how each service's settings are read.

Every service has one frozen settings class built on `ServiceSettings` below
(gateway/settings.py, consumer/settings.py, builder/settings.py, runner/settings.py for
the runner and its supervisor). It is read from the environment once, at start-up, by
`from_env()`: a default is the field's default and is written nowhere else; the
environment overrides it; a caller's mapping (a test's) overrides both. No other module
reads the environment (tests/unit/test_settings.py checks it, and that every `NIL_*`
variable is in the README's table and the chart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from common.config import ConfigError, database_url, env_int, env_list, env_str

# NIL_POOL_BACKEND names two choices at once: how runners are found (a discovery,
# common/runners/discovery/) and how they are started (a launcher, runner/launchers/;
# None: by someone else, e.g. a Kubernetes Deployment). This table is the one place
# the pair is chosen.
POOL_BACKENDS: dict[str, tuple[str, str | None]] = {
    "local": ("directory", "process"),
    "docker": ("directory", "docker"),
    "static": ("static", None),
    "kubernetes": ("dns", None),
}


@dataclass(frozen=True)
class ServiceSettings:
    home: str = ".nil"  # state directory: embedded Postgres data, runner sockets
    runner_dir: str = ""  # where runner sockets live; empty: <home>/runners
    log_level: str = "INFO"
    database_url: str = ""  # empty: libpq's PG* variables
    pool_backend: str = "local"
    # prometheus_client's multiprocess directory, when several processes share /metrics
    metrics_dir: str = ""

    def __post_init__(self) -> None:
        if self.pool_backend not in POOL_BACKENDS:
            raise ConfigError(
                f"NIL_POOL_BACKEND must be one of {', '.join(POOL_BACKENDS)},"
                f" got {self.pool_backend!r}"
            )
        if not self.runner_dir:
            object.__setattr__(self, "runner_dir", str(Path(self.home) / "runners"))

    @property
    def discovery(self) -> str:
        """How this platform finds its runners (a key of common.runners.DISCOVERIES)."""
        return POOL_BACKENDS[self.pool_backend][0]

    @property
    def launcher(self) -> str | None:
        """How a supervisor starts runners (a key of runner.launchers.LAUNCHERS), or
        None when something else starts them."""
        return POOL_BACKENDS[self.pool_backend][1]

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Self:
        """The environment's settings, then `overrides`; read once at start-up."""
        values = cls.read_env()
        values.update(overrides or {})
        return cls(**values)

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        """The fields this class reads from the environment; subclasses add theirs."""
        return {
            "home": env_str("NIL_HOME", cls.home),
            "runner_dir": env_str("NIL_RUNNER_DIR", cls.runner_dir),
            "log_level": env_str("NIL_LOG_LEVEL", cls.log_level),
            "database_url": database_url(),
            "pool_backend": env_str("NIL_POOL_BACKEND", cls.pool_backend),
            "metrics_dir": env_str("PROMETHEUS_MULTIPROC_DIR", cls.metrics_dir),
        }


@dataclass(frozen=True)
class RunnerClientSettings(ServiceSettings):
    """What a service that dispatches calls to runners needs (gateway, consumer)."""

    runner_wait_seconds: float = 5.0  # longest wait for a free runner before a 503
    runner_endpoints: tuple[str, ...] = ()  # static discovery: host:port or unix:/path
    runner_service: str = ""  # dns discovery: host:port of a headless Service

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        wait_ms = env_int("NIL_RUNNER_WAIT_MS", round(cls.runner_wait_seconds * 1000))
        return {
            **super().read_env(),
            "runner_wait_seconds": wait_ms / 1000,
            "runner_endpoints": env_list("NIL_RUNNER_ENDPOINTS"),
            "runner_service": env_str("NIL_RUNNER_SERVICE", cls.runner_service),
        }
