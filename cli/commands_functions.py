"""Commands about functions: deploy, ls, get, rm, revisions, rollback, alias."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import json_option, pass_context
from cli.errors import FUNCTION_FAILED, CliError


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=what)
        pairs[key] = value
    return pairs


def _limits(values: tuple[str, ...]) -> dict[str, int]:
    limits = {}
    for key, value in _pairs(values, "--limit").items():
        if key not in ("timeoutMs", "memoryMb", "fuel") or not value.isdigit():
            raise click.BadParameter(
                f"{key}={value}: use timeoutMs=N, memoryMb=N or fuel=N", param_hint="--limit"
            )
        limits[key] = int(value)
    return limits


@click.command(
    epilog="""\b
Examples:
  nil deploy echo.ts                     # TypeScript; name "echo"
  nil deploy add.as.ts --env MODE=fast   # AssemblyScript
  nil deploy hook.py --secret TOKEN --route hooks/github --public
  nil deploy                             # every function in ./nil.toml"""
)
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--name", help="Function name (default: the file's stem).")
@click.option("--language", help="Override the language the extension implies.")
@click.option("--env", "env", multiple=True, metavar="K=V", help="Environment entry.")
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="K[=V]",
    help="Secret; K alone reads $K or asks without echo.",
)
@click.option("--route", help="Serve the function at /fn/ROUTE.")
@click.option("--public/--private", default=None, help="Route callable without a key.")
@click.option("--limit", "limits", multiple=True, metavar="K=N", help="timeoutMs, memoryMb, fuel.")
@click.option("--no-wait", is_flag=True, help="Return once the build is queued.")
@click.option(
    "-f",
    "--file",
    "config",
    default="nil.toml",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Config read without FILE.",
)
@json_option
@pass_context
def deploy(
    ctx, file, name, language, env, secrets, route, public, limits, no_wait, config, as_json
):
    """Create or update a function from FILE and follow its build live."""
    from cli import deploy as d
    from cli.config import read_config

    if file is None:
        if name or language or env or secrets or route or limits or public is not None:
            raise click.UsageError("settings go in nil.toml when deploying without FILE")
        deployments = read_config(config, _prompt_secret)
    else:
        deployments = [
            d.deployment(
                file,
                name=name,
                language=language,
                env=_pairs(env, "--env") if env else None,
                secrets=d.secret_values(secrets, _prompt_secret) if secrets else None,
                route=route,
                public=public,
                limits=_limits(limits),
            )
        ]
    outcomes = d.deploy_all(ctx.client, deployments, wait=not no_wait)
    _report(ctx.client, outcomes, as_json)


def _prompt_secret(key: str) -> str:
    return click.prompt(f"value of secret {key}", hide_input=True)


def _report(client, outcomes, as_json: bool) -> None:
    from cli import deploy as d
    from cli.output import print_json

    if as_json:
        print_json(
            [
                o.function if isinstance(o, d.Outcome) else {"error": o.format_message()}
                for o in outcomes
            ]
        )
    else:
        for outcome in outcomes:
            if isinstance(outcome, d.Outcome):
                click.echo(d.summary(client, outcome))
    errors = [o for o in outcomes if isinstance(o, CliError)]
    failed = [o for o in outcomes if isinstance(o, d.Outcome) and not o.ok]
    if failed:
        raise CliError(f"{len(failed)} of {len(outcomes)} builds failed", FUNCTION_FAILED)
    if errors:
        raise (
            errors[0]
            if len(outcomes) == 1
            else CliError(
                f"{len(errors)} of {len(outcomes)} deploys failed: {errors[0].format_message()}",
                errors[0].exit_code,
            )
        )


@click.command("ls", epilog="Example:\n  nil ls --json | jq '.[].name'")
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@json_option
@pass_context
def ls(ctx, limit, as_json):
    """List functions, newest first."""
    from cli.output import print_json, table

    functions = ctx.client.get("/functions", params={"limit": limit})
    if as_json:
        return print_json(functions)
    table(
        functions,
        [
            ("NAME", "name"),
            ("LANGUAGE", "language"),
            ("STATUS", "status"),
            ("UPDATED", "updatedAt"),
            ("ID", "id"),
        ],
    )


@click.command(epilog="Example:\n  nil get echo")
@click.argument("function")
@click.option("--source", is_flag=True, help="Print only the source.")
@json_option
@pass_context
def get(ctx, function, source, as_json):
    """Show a function (by name or id)."""
    from cli.output import fields, print_json, size

    fn = ctx.client.find_function(function)
    if as_json:
        return print_json(fn)
    if source:
        return click.echo(fn["source"], nl=False)
    fields(
        [
            ("name", fn["name"]),
            ("id", fn["id"]),
            ("language", fn["language"]),
            ("status", fn["status"]),
            ("revision", fn["revision"]),
            ("live revision", fn.get("liveRevision")),
            ("limits", fn.get("limits")),
            ("env", fn.get("env")),
            ("route", fn.get("route")),
            ("wasm", size(fn.get("wasmSize"))),
            ("updated", fn["updatedAt"]),
            ("compile error", fn.get("compileError")),
        ]
    )


@click.command(epilog="Example:\n  nil rm echo --yes")
@click.argument("function")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@pass_context
def rm(ctx, function, yes):
    """Delete a function, its revisions and executions."""
    fn = ctx.client.find_function(function)
    if not yes:
        click.confirm(f"delete {fn['name']} ({fn['id']})?", abort=True)
    ctx.client.delete(f"/functions/{fn['id']}")
    click.echo(f"deleted {fn['name']} ({fn['id']})")


@click.command(epilog="Example:\n  nil revisions echo")
@click.argument("function")
@json_option
@pass_context
def revisions(ctx, function, as_json):
    """A function's revisions, newest first, with the aliases on them."""
    from cli.output import print_json, size, table

    fn = ctx.client.find_function(function)
    revs = ctx.client.get(f"/functions/{fn['id']}/revisions")
    aliases = ctx.client.get(f"/functions/{fn['id']}/aliases")
    if as_json:
        return print_json(revs)
    on = {}
    for alias in aliases:
        targets = [alias["revision"]] if alias.get("revision") else list(alias.get("routes") or {})
        for rev in targets:
            on.setdefault(int(rev), []).append(alias["name"])
    rows = [
        {**r, "size": size(r.get("wasmSize")), "aliases": ",".join(on.get(r["revision"], []))}
        for r in revs
    ]
    table(
        rows,
        [
            ("REV", "revision"),
            ("STATUS", "status"),
            ("LANGUAGE", "language"),
            ("SIZE", "size"),
            ("ALIASES", "aliases"),
            ("CREATED", "createdAt"),
        ],
    )


@click.command(epilog="Examples:\n  nil rollback echo\n  nil rollback echo --to 3")
@click.argument("function")
@click.option("--to", "revision", type=int, help="Revision to pin live to.")
@json_option
@pass_context
def rollback(ctx, function, revision, as_json):
    """Pin `live` to the READY revision before it (or --to N)."""
    from cli.output import print_json

    fn = ctx.client.find_function(function)
    body = {"revision": revision} if revision is not None else {}
    alias = ctx.client.post(f"/functions/{fn['id']}/rollback", body)
    if as_json:
        return print_json(alias)
    click.echo(f"{fn['name']}: live → revision {alias.get('revision')}")


ALIAS_EXAMPLES = "Examples:\n  nil alias set echo beta 4\n  nil alias set echo live 3=90,4=10"


@click.group(epilog=ALIAS_EXAMPLES)
def alias():
    """Name revisions, or split traffic between them."""


@alias.command("set", epilog=ALIAS_EXAMPLES)
@click.argument("function")
@click.argument("name")
@click.argument("target")
@json_option
@pass_context
def alias_set(ctx, function, name, target, as_json):
    """Point alias NAME at revision TARGET, or at weighted REV=W,REV=W routes."""
    from cli.output import print_json

    fn = ctx.client.find_function(function)
    if "=" in target:
        routes = _pairs(tuple(target.split(",")), "TARGET")
        if not all(v.isdigit() and k.isdigit() for k, v in routes.items()):
            raise click.BadParameter("routes are REV=WEIGHT,REV=WEIGHT", param_hint="TARGET")
        body = {"routes": {k: int(v) for k, v in routes.items()}}
    elif target.isdigit() or target == "latest":
        body = {"revision": int(target) if target.isdigit() else target}
    else:
        raise click.BadParameter("a revision number, latest, or REV=W,REV=W", param_hint="TARGET")
    result = ctx.client.put(f"/functions/{fn['id']}/aliases/{name}", body)
    if as_json:
        return print_json(result)
    where = result.get("revision") or result.get("routes")
    click.echo(f"{fn['name']}: {name} → {where}")


COMMANDS = [deploy, ls, get, rm, revisions, rollback, alias]
