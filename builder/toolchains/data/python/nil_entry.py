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

import nil_runtime  # first: it makes waits cooperative before other modules load
import wit_world
from componentize_py_types import Err
from nil_runtime import SOURCE_NAME

nil_runtime.install()


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


def _preload(path, source):
    # Source lines for tracebacks; mtime None means linecache never re-reads the file.
    linecache.cache[path] = (len(source), None, nil_runtime.source_lines(source), path)
    nil_runtime.preload_lazy_stdlib()
    tree = ast.parse(source, path)  # a SyntaxError names the file as the import would
    for lineno, name in nil_runtime.imported_names(tree):
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
try:
    import function  # the user's module, imported once, at build time
except SystemExit as stop:  # not an error of its own: say what happened
    raise BuildError(f"{SOURCE_NAME} called sys.exit({stop.code!r}) at module level") from None

if not callable(getattr(function, "handle", None)):
    raise BuildError(f"{SOURCE_NAME} must define a function handle(event)")

# Not earlier: a failing build reports through stderr as it aborts.
nil_runtime.buffer_output()


class WitWorld(wit_world.WitWorld):
    def handle(self, input: str) -> str:
        try:
            return json.dumps(function.handle(json.loads(input)), allow_nan=False)
        except BaseException as error:
            raise Err(nil_runtime.describe(error, PATH)) from None
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
