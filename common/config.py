"""Typed readers of environment variables, for the settings modules (common/settings.py
and each service's settings.py) only: they read the environment once, at start-up."""

from __future__ import annotations

import os


class ConfigError(ValueError):
    """A configuration variable has a value that cannot be used."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    """`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`, any case."""
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1 or 0), got {raw!r}")


def env_list(name: str) -> tuple[str, ...]:
    raw = env_str(name, "") or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def database_url() -> str:
    """`DATABASE_URL`, or an empty string so libpq falls back to the `PG*` variables."""
    return env_str("DATABASE_URL", "") or ""
