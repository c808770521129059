"""What the CLI reads from its environment, in one place: NO_COLOR, and the values of
`--secret K` taken from the environment. NIL_URL and NIL_API_KEY are the --url and
--api-key options' `envvar` (cli/app.py), so flags and variables share one definition."""

from __future__ import annotations

import os


def no_color() -> bool:
    """https://no-color.org: set at all (even empty) means no colours."""
    return "NO_COLOR" in os.environ


def environment_value(key: str) -> str | None:
    return os.environ.get(key)
