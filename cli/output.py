"""How the CLI prints: rich tables that fit 80 columns, colours only on a terminal and
never with NO_COLOR, JSON when asked (`--json`) or when stdout is piped."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from cli.settings import no_color

WIDTH = 80


def is_terminal(stream=None) -> bool:
    return (stream or sys.stdout).isatty()


def console(*, stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    plain = no_color() or not stream.isatty()
    return Console(
        file=stream,
        width=min(WIDTH, _terminal_width()) if stream.isatty() else WIDTH,
        no_color=plain,
        color_system=None if plain else "auto",
        force_terminal=False if plain else None,
        highlight=False,
        soft_wrap=False,
    )


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((WIDTH, 24)).columns or WIDTH  # a new pty says 0


def print_json(value: Any) -> None:
    """Pretty, coloured JSON on a terminal; one raw JSON document when piped."""
    if is_terminal() and not no_color():
        console().print_json(json.dumps(value))
    elif is_terminal():
        print(json.dumps(value, indent=2))
    else:
        print(json.dumps(value))


def table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    title: str | None = None,
) -> None:
    """A table of `rows` with (header, key) columns, shrunk to fit 80 columns."""
    from rich.table import Table

    grid = Table(title=title, box=None, header_style="bold", pad_edge=False, expand=False)
    for header, _key in columns:
        grid.add_column(header, overflow="ellipsis", no_wrap=True)
    for row in rows:
        grid.add_row(*(_text(row.get(key)) for _header, key in columns))
    console().print(grid)


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """`key  value` lines for one object."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(key, _text(value))
    console().print(grid)


def _text(value: Any):
    """A cell as plain text: a value's brackets are never read as rich markup."""
    from rich.text import Text

    return Text(_cell(value))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = str(value)
    if len(text) >= 20 and text[10:11] == "T" and text.endswith("Z"):
        return text[:19].replace("T", " ")  # timestamps to the second
    return text


def short_id(value: str | None) -> str:
    return value[:8] if value else "-"


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def error_line(text: str) -> None:
    """A message on stderr (plain when not a terminal)."""
    console(stderr=True).print(text, markup=False)
