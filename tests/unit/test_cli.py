"""The CLI's pure parts: the extension registry follows the languages, compile errors are
placed in the source, and `nil --help` loads neither httpx nor rich (a quick start)."""

import subprocess
import sys
from pathlib import Path

import pytest

from cli.source import LANGUAGE_BY_EXTENSION, Place, error_place, excerpt, split_name
from common.contracts import LANGUAGES


def test_every_language_has_an_extension():
    assert set(LANGUAGE_BY_EXTENSION.values()) == set(LANGUAGES)


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("echo.as.ts", ("echo", "assemblyscript")),
        ("echo.ts", ("echo", "typescript")),
        ("my.fn.js", ("my.fn", "javascript")),
        ("lib.rs", ("lib", "rust")),
        ("add.py", ("add", "python")),
        ("x.wat", ("x", "wat")),
        ("x.c", ("x", "c")),
        ("x.zig", ("x", "zig")),
        ("notes.txt", ("notes", None)),
        (".ts", (".ts", None)),
    ],
)
def test_name_and_language_from_the_file(file, expected):
    assert split_name(Path("/src") / file) == expected


@pytest.mark.parametrize(
    ("message", "place"),
    [
        ("ERROR TS2304: Cannot find name 'nope'.\n   in function.ts(3,10)", Place(3, 10)),
        ("function.c:2:10: error: use of undeclared identifier", Place(2, 10)),
        ("function.zig:2:12: error: use of undeclared identifier 'nope'", Place(2, 12)),
        ("error[E0425]: cannot find value `x`\n --> lib.rs:4:5", Place(4, 5)),
        ('  File "function.py", line 1\n    def handle(event)\nSyntaxError', Place(1, None)),
        ("the build exceeded its memory limit (1024 MiB)", None),
    ],
)
def test_the_place_a_compile_error_names(message, place):
    assert error_place(message) == place


def test_the_excerpt_puts_a_caret_under_the_column():
    source = "a\n\tb = nope\nc\n"
    assert excerpt(source, Place(2, 6)) == "2 |  b = nope\n" + " " * 9 + "^"  # under the n
    assert excerpt(source, Place(1, None)) == "1 | a"
    assert excerpt(source, Place(9, 1)) is None


def test_help_imports_neither_httpx_nor_rich():
    code = "import sys, cli.app; print(sorted({'httpx', 'rich'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr
