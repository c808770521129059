"""Schedules (SPEC §11) and the platform's readiness."""

from __future__ import annotations

import json

import click

from cli.app import json_option, pass_context
from cli.errors import CliError


@click.group(
    epilog="""\b
Examples:
  nil schedule add report '*/5 * * * *' --input '{"full": true}'
  nil schedule ls report
  nil schedule rm report 7f1c…-schedule-id"""
)
def schedule():
    """Run a function on a cron schedule."""


@schedule.command(
    "add", epilog="Example:\n  nil schedule add report '0 9 * * 1-5' --tz Europe/Paris"
)
@click.argument("function")
@click.argument("cron")
@click.option("--input", "input_json", help="The JSON object each run gets.")
@click.option("--tz", "timezone", help="IANA timezone (default UTC).")
@json_option
@pass_context
def schedule_add(ctx, function, cron, input_json, timezone, as_json):
    """Add a 5-field CRON schedule to a function."""
    from cli.output import print_json

    body: dict = {"cron": cron}
    if input_json is not None:
        try:
            body["input"] = json.loads(input_json)
        except json.JSONDecodeError as error:
            raise click.BadParameter(str(error), param_hint="--input") from None
    if timezone:
        body["timezone"] = timezone
    fn = ctx.client.find_function(function)
    created = ctx.client.post(f"/functions/{fn['id']}/schedules", body)
    if as_json:
        return print_json(created)
    click.echo(f"{created['id']}  next run {created.get('nextRunAt')}")


@schedule.command("ls", epilog="Example:\n  nil schedule ls report --json")
@click.argument("function")
@json_option
@pass_context
def schedule_ls(ctx, function, as_json):
    """A function's schedules."""
    from cli.output import print_json, table

    fn = ctx.client.find_function(function)
    rows = ctx.client.get(f"/functions/{fn['id']}/schedules")
    if as_json:
        return print_json(rows)
    table(rows, [("ID", "id"), ("CRON", "cron"), ("TZ", "timezone"), ("NEXT RUN", "nextRunAt")])


@schedule.command("rm", epilog="Example:\n  nil schedule rm report 7f1c…-schedule-id")
@click.argument("function")
@click.argument("schedule_id")
@pass_context
def schedule_rm(ctx, function, schedule_id):
    """Remove a schedule."""
    fn = ctx.client.find_function(function)
    ctx.client.delete(f"/functions/{fn['id']}/schedules/{schedule_id}")
    click.echo(f"removed schedule {schedule_id}")


@click.command(epilog="Example:\n  nil status --url http://nil.internal:8080")
@json_option
@pass_context
def status(ctx, as_json):
    """The platform's readiness (/ready), component by component."""
    from cli.output import print_json, table

    ready = ctx.client.request("GET", "/ready", accept=(503,)).json()  # 503 names what's down
    if as_json:
        print_json(ready)
    else:
        rows = [
            {"component": name, **state, "detail": _detail(state)}
            for name, state in ready.get("components", {}).items()
        ]
        table(
            rows,
            [("COMPONENT", "component"), ("STATUS", "status"), ("DETAIL", "detail")],
            title=f"{ctx.url}: {ready.get('status')}",
        )
    if ready.get("status") != "UP":
        raise CliError(f"the platform at {ctx.url} is not ready")


def _detail(state: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in state.items() if k != "status") or ""


COMMANDS = [schedule, status]
