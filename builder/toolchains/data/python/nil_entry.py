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
    tree = ast.parse(source, SOURCE_NAME)
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
