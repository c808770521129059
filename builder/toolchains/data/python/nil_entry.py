"""Nil's entry point for a Python function; the builder bundles it next to function.py.

componentize-py runs this module once at build time and snapshots the interpreter.
There is no file system at run time, so everything the function may import must be
imported here: the function's module, and every module its source names in an
import statement (also the ones inside functions). A module that is not available
fails the build, with the line that imports it.
"""

import ast
import importlib
import json
import linecache
import sys
import traceback

import wit_world
from componentize_py_types import Err

SOURCE_NAME = "function.py"
# Modules the standard library imports lazily, by name: codecs looked up by encoding
# name, and datetime.strptime's helper. Imported here so they work at run time too.
LAZY_STDLIB = (
    "_strptime",
    "encodings.ascii",
    "encodings.cp1252",
    "encodings.idna",
    "encodings.latin_1",
    "encodings.raw_unicode_escape",
    "encodings.unicode_escape",
    "encodings.utf_16",
    "encodings.utf_32",
)


class BuildError(Exception):
    pass


def _source_path():
    for directory in sys.path:
        path = f"{directory}/{SOURCE_NAME}"
        try:
            with open(path, encoding="utf-8") as file:
                return path, file.read()
        except OSError:
            continue
    raise BuildError(f"{SOURCE_NAME} is missing")


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # `from pkg import submodule`
                yield None, f"{node.module}.{alias.name}"


def _preload(path, source):
    # Source lines for tracebacks; mtime None means linecache never re-reads the file.
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    for name in LAZY_STDLIB:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    tree = ast.parse(source, path)  # a SyntaxError names the file as the import would
    for lineno, name in _imported_names(tree):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if lineno is None:  # `from pkg import name` where name is not a module
                continue
            raise BuildError(
                f'File "{SOURCE_NAME}", line {lineno}: {type(exc).__name__}: {exc}'
                " (Python functions can use the standard library only)"
            ) from None


PATH, SOURCE = _source_path()
_preload(PATH, SOURCE)
import function  # noqa: E402  (the user's module, imported once, at build time)

if not callable(getattr(function, "handle", None)):
    raise BuildError(f"{SOURCE_NAME} must define a function handle(event)")

# Buffer prints from here on (a write to the host per print costs ~0.2 ms); handle()
# flushes both streams when it returns, and the text layer flushes every 8 KiB. Not
# earlier: a failing build reports through stderr as it aborts.
sys.stdout.reconfigure(write_through=False)
sys.stderr.reconfigure(write_through=False)


def _describe(error):
    """The exception as Python prints it, with only the frames of function.py."""
    summary = traceback.TracebackException.from_exception(error)
    frames = [frame for frame in summary.stack if frame.filename == PATH]
    summary.stack = traceback.StackSummary.from_list(frames)
    text = "".join(summary.format() if frames else summary.format_exception_only())
    return text.replace(PATH, SOURCE_NAME).strip()


class WitWorld(wit_world.WitWorld):
    def handle(self, input: str) -> str:
        try:
            return json.dumps(function.handle(json.loads(input)), allow_nan=False)
        except BaseException as error:
            raise Err(_describe(error)) from None
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
