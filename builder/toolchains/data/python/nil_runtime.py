"""What every Python function's component runs before the function: cooperative waits,
output the host takes whole, the standard library's lazily imported modules,
and the function's exceptions as Python prints them. Bundled next to both entry modules
(nil_entry.py: a function snapshotted at build time; nil_template.py: the shared
template that loads a function per call) and imported by them first.
"""

import ast
import importlib
import io
import os
import sys
import traceback

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


def install():
    """Cooperative waits, then output the host takes whole: before the function's modules
    load."""
    _cooperative_waits()
    _whole_writes()


def preload_lazy_stdlib():
    for name in LAZY_STDLIB:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def buffer_output():
    """Buffer prints from here on (a write to the host per print costs ~0.2 ms); the
    entry flushes both streams when handle returns, the text layer every 8 KiB."""
    sys.stdout.reconfigure(write_through=False)
    sys.stderr.reconfigure(write_through=False)


def imported_names(tree):
    """(line, module name) for every import statement of `tree`, also inside functions;
    line None for `from pkg import name`'s pkg.name, which may not be a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # `from pkg import submodule`
                yield None, f"{node.module}.{alias.name}"


def source_lines(source):
    """The source's lines as Python numbers them, for tracebacks: only \\n, \\r\\n and
    \\r end a line (str.splitlines also splits at form feeds and other separators)."""
    return [line + "\n" for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def describe(error, path):
    """The exception as Python prints it, with only the frames of the function's file."""
    summary = traceback.TracebackException.from_exception(error)
    frames = [frame for frame in summary.stack if frame.filename == path]
    summary.stack = traceback.StackSummary.from_list(frames)
    text = "".join(summary.format() if frames else summary.format_exception_only())
    return text.replace(path, SOURCE_NAME).strip()


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


# The host takes at most 8 KiB of one write to stdout or stderr and says so (a short
# write), but the text streams CPython gives a component sit on the raw file, and a text
# layer never writes again what a raw file left: the bytes past 8,192 of a flush were
# lost — and with them the end of a secret the runner's redaction needed to see (an
# outside attack printed one on 200 lines). So the streams are made again on a raw file
# that writes until everything is written, for `print`, `sys.stdout.write` and
# `writelines`, `sys.stdout.buffer`, and `sys.__stdout__` alike; `os.write` to 1 or 2
# writes everything too.
_host_write = os.write


def _write_all(fd, data):
    view = memoryview(data).cast("B")
    total = len(view)
    while view:
        written = _host_write(fd, view)
        if not written:  # never spin: a stream that takes nothing is broken
            raise OSError(5, "the host took none of a write")  # EIO
        view = view[written:]
    return total


class _WholeWrites(io.RawIOBase):
    def __init__(self, fd):
        self._fd = fd

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def write(self, data):
        return _write_all(self._fd, data)


def _whole_writes():
    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        old.flush()
        stream = io.TextIOWrapper(
            _WholeWrites(fd),
            encoding=old.encoding,
            errors=old.errors,
            line_buffering=old.line_buffering,
            write_through=True,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)

    def write(fd, data):
        try:
            std = fd.__index__() in (1, 2)  # an object with __index__ is an fd too
        except AttributeError:
            std = False  # the host's write says what is wrong with it
        return _write_all(fd, data) if std else _host_write(fd, data)

    write.__doc__, write.__name__ = _host_write.__doc__, "write"
    os.write = write
