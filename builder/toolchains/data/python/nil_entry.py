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


# Sleeping and polling, made cooperative. A wait inside one host call cannot be stopped
# by the runner's deadline (it interrupts wasm, not the host), so every wait the runtime
# offers — time.sleep, select.select, select.poll — waits in slices of a few milliseconds
# and runs wasm between them, where the deadline ends the call as a timeout. Patched
# before anything else is imported, so modules that keep a reference (selectors) keep
# the cooperative one. The runner's watchdog stops whatever still blocks.
SLICE_SECONDS = 0.005


def _cooperative_waits():
    import select
    import time

    host_sleep, host_select, host_poll, monotonic = (
        time.sleep,
        select.select,
        getattr(select, "poll", None),
        time.monotonic,
    )

    def next_slice(end):
        return SLICE_SECONDS if end is None else max(0.0, min(SLICE_SECONDS, end - monotonic()))

    def sleep(seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        end = monotonic() + seconds
        while (left := end - monotonic()) > 0:
            host_sleep(min(left, SLICE_SECONDS))

    def cooperative_select(rlist, wlist, xlist, timeout=None):
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be non-negative")
        end = None if timeout is None else monotonic() + timeout
        while True:
            ready = host_select(rlist, wlist, xlist, next_slice(end))
            if any(ready) or (end is not None and monotonic() >= end):
                return ready

    class Poll:
        def __init__(self):
            self._poll = host_poll()
            self.register, self.modify = self._poll.register, self._poll.modify
            self.unregister = self._poll.unregister

        def poll(self, timeout=None):
            forever = timeout is None or timeout < 0
            end = None if forever else monotonic() + timeout / 1000
            while True:
                events = self._poll.poll(next_slice(end) * 1000)
                if events or (end is not None and monotonic() >= end):
                    return events

    sleep.__doc__, cooperative_select.__doc__ = host_sleep.__doc__, host_select.__doc__
    time.sleep, select.select = sleep, cooperative_select
    cooperative_select.__name__ = "select"
    if host_poll is not None:
        select.poll = Poll


_cooperative_waits()


# The host takes at most 8 KiB of one write to stdout or stderr and the rest of a longer
# write is lost — and a secret cut there would escape the runner's redaction. Every write
# longer than a piece goes out in pieces that fit (2048 characters are at most 8 KiB of
# UTF-8), each flushed; shorter ones stay buffered.
PIECE_CHARS = 2048


class _InPieces:
    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if len(text) <= PIECE_CHARS:  # short writes stay buffered (a print is two writes)
            return self._stream.write(text)
        self._stream.flush()
        for start in range(0, len(text), PIECE_CHARS):
            self._stream.write(text[start : start + PIECE_CHARS])
            self._stream.flush()
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


sys.stdout, sys.stderr = _InPieces(sys.stdout), _InPieces(sys.stderr)


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
