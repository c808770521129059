"""`nil deploy`: create or update functions by exact name and follow their builds live —
one spinner line per function (state and elapsed time), then the revision, artifact
size and URL, or the compile error pointed at the source line."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.client import Client, ambiguous, path_part
from cli.errors import CliError
from cli.settings import environment_value
from cli.source import error_place, excerpt, split_name

POLL_SECONDS = 0.1
BUILD_TIMEOUT = 600.0
ENDED = {"READY", "FAILED"}


@dataclass
class Deployment:
    """One function to deploy: its file and the settings the command or nil.toml gave."""

    file: Path
    name: str
    language: str
    env: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    route: str | None = None
    public: bool | None = None
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.file.read_text(encoding="utf-8")


@dataclass
class Outcome:
    deployment: Deployment
    function: dict[str, Any]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.function["status"] in ("READY", "PENDING", "COMPILING")


def deployment(
    file: Path, *, name: str | None = None, language: str | None = None, **settings: Any
) -> Deployment:
    if not file.is_file():
        raise CliError(f"no such file: {file}", exit_code=2)
    stem, guessed = split_name(file)
    if not (language or guessed):
        raise CliError(
            f"cannot tell the language of {file.name} from its extension: pass --language",
            exit_code=2,
        )
    return Deployment(file, name or stem, language or guessed, **settings)


def body_for(d: Deployment, current: dict[str, Any] | None) -> dict[str, Any]:
    """The POST/PUT body: the file and flags over what the function has now (a redeploy
    without --env keeps its env; --limit changes only the limits it names)."""
    current = current or {}
    body: dict[str, Any] = {"name": d.name, "language": d.language, "source": d.source}
    for key in ("description", "isolation", "retry"):
        if current.get(key) is not None:
            body[key] = current[key]
    limits = {**(current.get("limits") or {}), **d.limits}
    if limits:
        body["limits"] = limits
    env = d.env if d.env is not None else current.get("env")
    if env:
        body["env"] = env
    for key, value in (("secrets", d.secrets), ("route", d.route), ("public", d.public)):
        if value is not None:
            body[key] = value
    return body


def submit(client: Client, d: Deployment) -> dict[str, Any]:
    """Create the function, or update the one with exactly this name."""
    found = client.functions_named(d.name)
    if len(found) > 1:
        raise ambiguous(d.name, found)
    if not found:
        return client.post("/functions", body_for(d, None))
    fid = found[0]["id"]
    current = client.get(f"/functions/{path_part(fid)}")
    return client.put(f"/functions/{path_part(fid)}", body_for(d, current))


def follow(
    client: Client, function: dict[str, Any], on_state: Callable[[str], None]
) -> dict[str, Any]:
    """Poll the function until its newest revision is READY or FAILED."""
    deadline = time.monotonic() + BUILD_TIMEOUT
    on_state(function["status"])
    while function["status"] not in ENDED:
        if time.monotonic() > deadline:
            raise CliError(f"{function['name']} still {function['status']} after 10 minutes")
        time.sleep(POLL_SECONDS)
        function = client.get(f"/functions/{path_part(function['id'])}")
        on_state(function["status"])
    return function


def deploy_all(
    client: Client, deployments: list[Deployment], *, wait: bool
) -> list[Outcome | CliError]:
    """Deploy in parallel, one progress line each; an API error is that line's outcome."""
    from cli.progress import Tracker

    with Tracker() as tracker, ThreadPoolExecutor(max(1, len(deployments))) as pool:
        lines = [tracker.add(d.name) for d in deployments]
        futures = [
            pool.submit(_deploy_one, client, d, line, wait)
            for d, line in zip(deployments, lines, strict=True)
        ]
        return [f.result() for f in futures]


def _deploy_one(client: Client, d: Deployment, line, wait: bool) -> Outcome | CliError:
    started = time.monotonic()
    try:
        function = submit(client, d)
        if wait:
            function = follow(client, function, line.state)
        else:
            line.state(function["status"])
    except CliError as error:
        line.failed(error.format_message())
        return error
    outcome = Outcome(d, function, time.monotonic() - started)
    line.done(function["status"])
    return outcome


def summary(client: Client, outcome: Outcome) -> str:
    """The last word on one deploy: revision, size and URL, or the placed compile error."""
    fn, d = outcome.function, outcome.deployment
    head = f"{fn['name']} revision {fn['revision']} {fn['status']} in {outcome.seconds:.1f}s"
    if fn["status"] == "FAILED":
        return "\n".join([head, *_compile_error(fn, d)])
    from cli.output import size

    url = f"{client.url}/functions/{fn['id']}/execute"
    if fn.get("route"):
        url = f"{client.url}/fn/{fn['route']}"
    if fn["status"] != "READY":
        return f"{head} · id {fn['id']}"
    return f"{head} · {size(fn.get('wasmSize'))} · {url}"


def _compile_error(fn: dict[str, Any], d: Deployment) -> list[str]:
    message = (fn.get("compileError") or "the build failed").rstrip()
    lines = [message]
    place = error_place(message)
    shown = place and excerpt(d.source, place)
    if shown:
        lines += [f"{d.file}:{place.line}" + (f":{place.column}" if place.column else ""), shown]
    return lines


def secret_values(names_or_pairs: tuple[str, ...], prompt: Callable[[str], str]) -> dict:
    """`--secret K=V`, or `--secret K`: from the environment, else asked without echo."""
    secrets = {}
    for item in names_or_pairs:
        key, sep, value = item.partition("=")
        if not sep:
            value = environment_value(key)
            if value is None:
                value = prompt(key)
        secrets[key] = value
    return secrets
