"""The `nil` command group: global options (--url, --api-key), the shared context, and
the entry point that maps failures to exit codes. Commands live in commands_*.py; heavy
imports (httpx, rich) wait until a command runs, so `nil --help` starts quickly."""

from __future__ import annotations

import click

from cli.errors import CliError

DEFAULT_URL = "http://localhost:8080"


class Context:
    """What every command gets: the platform's URL and key, and a client made on use."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url, self.api_key = url, api_key
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from cli.client import Client

            self._client = Client(self.url, self.api_key)
        return self._client


pass_context = click.make_pass_decorator(Context)


def json_option(command):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        command
    )


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 80},
    epilog="""\b
Example:
  nil deploy echo.ts && nil invoke echo '{"hello": "world"}'

Exit status: 0 ok, 1 a function or build failed, 2 usage error,
3 platform or API error. See docs/cli.md.""",
)
@click.option(
    "--url",
    envvar="NIL_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The platform's API (env NIL_URL).",
)
@click.option("--api-key", envvar="NIL_API_KEY", help="API key (env NIL_API_KEY).")
@click.version_option(package_name="nil", prog_name="nil")
@click.pass_context
def nil(ctx: click.Context, url: str, api_key: str | None) -> None:
    """Nil: deploy and run WebAssembly functions from the command line."""
    ctx.obj = Context(url, api_key)


def _register() -> None:
    from cli import commands_exec, commands_functions, commands_platform

    for module in (commands_functions, commands_exec, commands_platform):
        for command in module.COMMANDS:
            nil.add_command(command)


_register()


def run() -> None:
    try:
        nil.main(prog_name="nil", standalone_mode=True)
    except CliError as error:  # raised outside click's own handling (e.g. at close)
        error.show()
        raise SystemExit(error.exit_code) from None
