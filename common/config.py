"""Typed readers of environment variables, for the settings modules only
(common/settings.py): a service reads its environment once, at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration variable has a value that cannot be used."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    return _parsed(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _parsed(name, default, float, "a number")


def env_bool(name: str, default: bool) -> bool:
    """`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`, any case."""
    return _parsed(name, default, _boolean, "a boolean (1 or 0)")


def env_list(name: str) -> tuple[str, ...]:
    raw = env_str(name, "") or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _parsed(name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from exc


def _boolean(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
