"""The CLI's failures and their exit codes (docs/cli.md): 1 a function or build failed,
2 a usage error (click's own), 3 the platform or its API refused or could not be reached."""

from __future__ import annotations

import click

FUNCTION_FAILED = 1
USAGE = 2
PLATFORM = 3


class CliError(click.ClickException):
    """A one-line error on stderr, naming what to do; exits with `exit_code`."""

    exit_code = PLATFORM

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class ApiError(CliError):
    """The API answered with an error status (its JSON error message quoted)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Unreachable(CliError):
    """No platform answers at the URL."""


class FunctionFailed(CliError):
    """The function's execution or build failed."""

    exit_code = FUNCTION_FAILED
