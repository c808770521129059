"""nil.toml: several functions and their settings, deployed together by `nil deploy`.

[functions.echo]
file = "echo.as.ts"            # relative to nil.toml
language = "assemblyscript"    # optional: the extension's by default
env = { GREETING = "hello" }
secrets = ["API_TOKEN"]        # names; values from the environment or a prompt
route = "echo"
public = true
limits = { timeoutMs = 2000 }
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from cli.deploy import Deployment, deployment, secret_values
from cli.errors import CliError

_KEYS = {"file", "language", "env", "secrets", "route", "public", "limits"}


def read_config(path: Path, prompt: Callable[[str], str]) -> list[Deployment]:
    if not path.is_file():
        raise CliError(f"no FILE given and no {path} here: `nil deploy FILE`", exit_code=2)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise CliError(f"{path}: {error}", exit_code=2) from None
    functions = document.get("functions")
    if not isinstance(functions, dict) or not functions:
        raise CliError(f"{path} has no [functions.NAME] tables", exit_code=2)
    return [_entry(path.parent, name, entry, prompt) for name, entry in functions.items()]


def _entry(base: Path, name: str, entry: object, prompt) -> Deployment:
    if not isinstance(entry, dict) or "file" not in entry:
        raise CliError(f'[functions.{name}] needs file = "..."', exit_code=2)
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise CliError(f"[functions.{name}] has unknown keys: {', '.join(unknown)}", exit_code=2)
    secrets = entry.get("secrets")
    return deployment(
        base / entry["file"],
        name=name,
        language=entry.get("language"),
        env={k: str(v) for k, v in entry["env"].items()} if "env" in entry else None,
        secrets=secret_values(tuple(secrets), prompt) if secrets else None,
        route=entry.get("route"),
        public=entry.get("public"),
        limits=dict(entry.get("limits") or {}),
    )
