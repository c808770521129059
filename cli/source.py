"""Source files as the CLI reads them: the language from the extension, the name from
the stem, and a compile error pointed at its line and column in the local file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Longest suffix first: `echo.as.ts` is AssemblyScript, `echo.ts` TypeScript (SPEC §6).
LANGUAGE_BY_EXTENSION = {
    ".as.ts": "assemblyscript",
    ".as": "assemblyscript",
    ".ts": "typescript",
    ".js": "javascript",
    ".mjs": "javascript",
    ".wat": "wat",
    ".py": "python",
    ".c": "c",
    ".zig": "zig",
    ".rs": "rust",
}


def split_name(path: Path) -> tuple[str, str | None]:
    """(stem, language) of a file: `echo.as.ts` → ("echo", "assemblyscript")."""
    name = path.name
    for suffix, language in LANGUAGE_BY_EXTENSION.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], language
    return path.stem, None


# function.ts(3,5) (asc) · function.c:2:10 (clang, zig, tsc, rustc) · File "function.py", line 1
_PLACES = (
    re.compile(r"[\w.-]+\.\w+\((?P<line>\d+),(?P<col>\d+)\)"),
    re.compile(r"[\w.-]+\.\w+:(?P<line>\d+):(?P<col>\d+)"),
    re.compile(r'File "[\w.-]+", line (?P<line>\d+)'),
)


@dataclass(frozen=True)
class Place:
    line: int
    column: int | None


def error_place(compile_error: str) -> Place | None:
    """The first line:column a compile error names, if any."""
    for pattern in _PLACES:
        found = pattern.search(compile_error)
        if found:
            col = found.groupdict().get("col")
            return Place(int(found["line"]), int(col) if col else None)
    return None


def excerpt(source: str, place: Place) -> str | None:
    """The offending source line, numbered, with a caret under the column."""
    lines = source.splitlines()
    if not 1 <= place.line <= len(lines):
        return None
    text = lines[place.line - 1].replace("\t", " ")
    gutter = f"{place.line} | "
    result = f"{gutter}{text}"
    if place.column is not None and place.column >= 1:
        result += "\n" + " " * (len(gutter) + place.column - 1) + "^"
    return result
