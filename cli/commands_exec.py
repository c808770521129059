"""Commands about executions: invoke, executions, logs (--follow), retry."""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

import click

from cli.app import json_option, pass_context
from cli.errors import FUNCTION_FAILED, CliError

FINISHED = {"COMPLETED", "FAILED"}


def _input(data: str | None, given: str | None) -> dict[str, Any]:
    """The input: the JSON argument, -d JSON / -d @file, or stdin when piped; else {}."""
    text = given if given is not None else data
    if text is not None and text.startswith("@"):
        try:
            text = sys.stdin.read() if text == "@-" else open(text[1:], encoding="utf-8").read()
        except OSError as error:
            raise click.BadParameter(str(error), param_hint="-d") from None
    elif text is None and not sys.stdin.isatty():
        text = sys.stdin.read()
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"the input is not JSON: {error}", param_hint="JSON") from None
    if not isinstance(value, dict):
        raise click.BadParameter("the input must be a JSON object", param_hint="JSON")
    return value


@click.command(
    epilog="""\b
Examples:
  nil invoke echo '{"name": "Ada"}'
  nil invoke echo -d @event.json --alias beta
  echo '{"n": 1}' | nil invoke add --async --wait"""
)
@click.argument("function")
@click.argument("json_input", metavar="[JSON]", required=False)
@click.option("-d", "--data", help="The input: JSON, @file, or @- for stdin.")
@click.option("--alias", help="Run this alias's revision.")
@click.option("--revision", type=int, help="Run this revision.")
@click.option("--idempotency-key", help="Run at most once for this key (24 h).")
@click.option("--async", "is_async", is_flag=True, help="Queue it; print the execution id.")
@click.option("--wait", is_flag=True, help="With --async: follow it to the end.")
@json_option
@pass_context
def invoke(
    ctx, function, json_input, data, alias, revision, idempotency_key, is_async, wait, as_json
):
    """Run a function (by name or id) on a JSON object; print its output."""
    body = {"input": _input(data, json_input)}
    fid = _function_id(ctx.client, function)
    params = {k: v for k, v in (("alias", alias), ("revision", revision)) if v is not None}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    path = f"/functions/{fid}/{'invocations' if is_async else 'execute'}"
    execution = ctx.client.post(path, body, params=params, headers=headers)
    if is_async and not wait:
        return _print_json(execution) if as_json else click.echo(execution["id"])
    if is_async:
        execution = wait_for(ctx.client, execution["id"])
    _show_result(execution, as_json)


def _function_id(client, function: str) -> str:
    from cli.client import _looks_like_uuid, ambiguous

    if _looks_like_uuid(function):
        return function
    found = client.functions_named(function)
    if len(found) != 1:
        if found:
            raise ambiguous(function, found)
        raise CliError(f"no function named {function!r} (see `nil ls`)")
    return found[0]["id"]


def wait_for(client, execution_id: str) -> dict[str, Any]:
    while True:
        execution = client.get(f"/executions/{execution_id}", params={"wait": 30})
        if execution["status"] in FINISHED:
            return execution


def _print_json(value) -> None:
    from cli.output import print_json

    print_json(value)


def _show_result(execution: dict[str, Any], as_json: bool) -> None:
    if execution.get("logs"):
        click.echo(execution["logs"].rstrip("\n"), err=True)
    if as_json:
        _print_json(execution)
    elif execution["status"] == "COMPLETED":
        _print_json(execution["output"])
    if execution["status"] == "FAILED":
        raise CliError(f"FAILED: {execution.get('errorMessage')}", FUNCTION_FAILED)


@click.command(epilog="Examples:\n  nil executions echo\n  nil executions echo --failed --dead")
@click.argument("function")
@click.option("--failed", is_flag=True, help="Only FAILED executions.")
@click.option("--dead", is_flag=True, help="Only dead-lettered ones.")
@click.option("--limit", default=20, show_default=True, help="At most this many.")
@json_option
@pass_context
def executions(ctx, function, failed, dead, limit, as_json):
    """A function's executions, newest first."""
    from cli.output import table

    fid = _function_id(ctx.client, function)
    params: dict[str, Any] = {"limit": limit}
    if failed:
        params["status"] = "FAILED"
    if dead:
        params["deadLettered"] = "true"
    rows = ctx.client.get(f"/functions/{fid}/executions", params=params)
    if as_json:
        return _print_json(rows)
    table(
        rows,
        [
            ("ID", "id"),
            ("STATUS", "status"),
            ("REV", "revision"),
            ("TRIGGER", "trigger"),
            ("MS", "durationMs"),
            ("STARTED", "startedAt"),
        ],
    )


@click.command(epilog="Examples:\n  nil logs 0b7c…-execution-id\n  nil logs echo --follow")
@click.argument("target")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="TARGET is a function: print each new execution's logs as it completes, until Ctrl-C.",
)
@json_option
@pass_context
def logs(ctx, target, follow, as_json):
    """An execution's logs, or (--follow) a function's as they come."""
    if follow:
        return _follow(ctx.client, _function_id(ctx.client, target), as_json)
    execution = ctx.client.get(f"/executions/{target}")
    if as_json:
        return _print_json({k: execution.get(k) for k in ("id", "status", "logs", "errorMessage")})
    if execution.get("logs"):
        click.echo(execution["logs"].rstrip("\n"))
    if execution["status"] == "FAILED":
        click.echo(f"FAILED: {execution.get('errorMessage')}", err=True)


def _follow(client, fid: str, as_json: bool) -> None:
    # Ctrl-C ends it even when started with SIGINT ignored (a shell's background job
    # hands that on, and Python then never raises KeyboardInterrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seen: set[str] = set()
    first = True
    try:
        while True:
            rows = client.get(f"/functions/{fid}/executions", params={"limit": 50})
            for row in reversed(rows):
                if row["id"] in seen or row["status"] not in FINISHED:
                    continue
                seen.add(row["id"])
                if not first:
                    _print_one(client.get(f"/executions/{row['id']}"), as_json)
            first = False
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


def _print_one(execution: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps({k: execution.get(k) for k in ("id", "status", "logs", "errorMessage")})
        )
        return
    head = f"--- {execution['id']} {execution['status']} {execution.get('completedAt')}"
    click.echo(head)
    if execution.get("logs"):
        click.echo(execution["logs"].rstrip("\n"))
    if execution["status"] == "FAILED":
        click.echo(f"FAILED: {execution.get('errorMessage')}")
    sys.stdout.flush()


@click.command(epilog="Example:\n  nil retry 0b7c…-execution-id --idempotency-key fix-42")
@click.argument("execution_id")
@click.option("--idempotency-key", help="Start it at most once for this key (24 h).")
@json_option
@pass_context
def retry(ctx, execution_id, idempotency_key, as_json):
    """Start a dead letter again (same input and revision choice); print the new id."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    execution = ctx.client.post(f"/executions/{execution_id}/retry", headers=headers)
    if as_json:
        return _print_json(execution)
    click.echo(execution["id"])


COMMANDS = [invoke, executions, logs, retry]
