"""The settings every service shares, and how each service's settings are read.

Every service has one frozen settings class built on `ServiceSettings` below
(gateway/settings.py, consumer/settings.py, builder/settings.py, runner/settings.py for
the runner and its supervisor). A field declared with `env(NAME, default)` is read from
that environment variable, parsed by the field's type, by `from_env()` — once, at
start-up. A default is written once, in its field; the environment overrides it; a
caller's mapping (a test's) overrides both. No other module reads the environment
(tests/unit/test_settings.py checks it, and that every `NIL_*` variable is in the
README's table and the chart).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from common.config import ConfigError, env_bool, env_float, env_int, env_list, env_str

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
# Backends that can give a function runners of its own (`isolation: dedicated`): the ones
# with a launcher, whose supervisor starts a runner per function on demand.
DEDICATED_BACKENDS = tuple(name for name, (_, launcher) in POOL_BACKENDS.items() if launcher)
_READERS: dict[Any, Any] = {int: env_int, float: env_float, bool: env_bool}


def env(name: str, default: Any, *, secret: bool = False) -> Any:
    """A settings field read from the environment variable `name`, else `default`; a
    `secret` one is left out of the settings' repr (so never in a log line)."""
    return dataclasses.field(default=default, metadata={"env": name}, repr=not secret)


@dataclass(frozen=True)
class ServiceSettings:
    home: str = env("NIL_HOME", ".nil")  # state: embedded Postgres data, runner sockets
    runner_dir: str = env("NIL_RUNNER_DIR", "")  # where runner sockets live; "": <home>/runners
    log_level: str = env("NIL_LOG_LEVEL", "INFO")
    database_url: str = env("DATABASE_URL", "")  # "": libpq's PG* variables
    pool_backend: str = env("NIL_POOL_BACKEND", "local")
    # prometheus_client's multiprocess directory, when several processes share /metrics
    metrics_dir: str = env("PROMETHEUS_MULTIPROC_DIR", "")

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

    @property
    def dedicated_isolation(self) -> bool:
        """Whether functions may ask for runners of their own on this backend."""
        return self.pool_backend in DEDICATED_BACKENDS

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Self:
        """The environment's settings, then `overrides`; read once at start-up."""
        return cls(**{**cls.read_env(), **(overrides or {})})

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        """Every `env(...)` field as its variable sets it (or its default)."""
        hints = typing.get_type_hints(cls)
        return {
            field.name: _read(field.metadata["env"], hints[field.name], field.default)
            for field in dataclasses.fields(cls)
            if "env" in field.metadata
        }


@dataclass(frozen=True)
class RunnerClientSettings(ServiceSettings):
    """What a service that dispatches calls to runners needs (gateway, consumer)."""

    runner_wait_ms: int = env("NIL_RUNNER_WAIT_MS", 5000)  # longest wait for a free runner
    # calls of one process waiting for a free runner at most; past it, 503 at once
    runner_queue_max: int = env("NIL_RUNNER_QUEUE_MAX", 256)
    runner_endpoints: tuple[str, ...] = env("NIL_RUNNER_ENDPOINTS", ())  # static discovery
    runner_service: str = env("NIL_RUNNER_SERVICE", "")  # dns discovery: host:port
    # Functions' secrets (SPEC §12, common/secrets.py): the key that seals and opens them,
    # and old keys that only open them while a rotation reseals (base64 of 32 bytes).
    secrets_key: str = env("NIL_SECRETS_KEY", "", secret=True)
    secrets_old_keys: tuple[str, ...] = env("NIL_SECRETS_OLD_KEYS", (), secret=True)


def _read(name: str, hint: Any, default: Any) -> Any:
    if hint in _READERS:
        return _READERS[hint](name, default)
    if typing.get_origin(hint) is tuple:
        return env_list(name) or default
    return env_str(name, default)  # str, or str | None
