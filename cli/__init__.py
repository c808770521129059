"""`nil`, the command line of the platform (SPEC §13): deploy, invoke, logs, revisions,
aliases, schedules, over the HTTP API. `main` is the console script's entry point."""

from __future__ import annotations


def main() -> None:
    from cli.app import run

    run()
