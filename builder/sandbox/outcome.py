"""How a confined compile ended, from its exit status and what it printed.

A limit the build itself hit is the user's failure: its memory cap (an allocation
the compiler could not get), its CPU time (SIGXCPU) or its output size (SIGXFSZ). So is
a compiler that crashed on its own (SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE,
SIGSYS: an assertion, a stack overflow, a bug the source triggers): the same source
crashes it again, so retrying only costs time (`SourceCrash`). A compiler killed by any
other signal (SIGKILL from the kernel's OOM killer acting on the whole builder, an
operator, the builder going away; SIGTERM) is the platform's failure and is retried.
"""

from __future__ import annotations

import re
import signal

MEMORY, CPU, OUTPUT, DISK = "memory", "cpu", "output", "disk"

_OUT_OF_MEMORY = re.compile(
    r"out of memory|OutOfMemory|std::bad_alloc|memory allocation of \d+ bytes failed"
    r"|Cannot allocate memory|heap out of memory|Allocation failed",
    re.IGNORECASE,
)
_TOO_LARGE = re.compile(r"File too large|EFBIG")
_CRASH_SIGNALS = {
    signal.SIGABRT,
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGILL,
    signal.SIGTRAP,
    signal.SIGFPE,
    signal.SIGSYS,
}


class PlatformFault(Exception):
    """The compiler was stopped by something other than the build's own limits."""


class SourceCrash(Exception):
    """The compiler crashed on its own while compiling this source: deterministic."""

    def __init__(self, what: str) -> None:
        super().__init__(crash_message(what))
        self.what = what


def crash_message(what: str) -> str:
    """The user's message for a compiler that crashed on their source."""
    return f"the compiler crashed on this source ({what})"


def limit_hit(returncode: int | None, output: str) -> str | None:
    """The limit a finished compile ran into, if any; raises PlatformFault when the
    compiler was killed by a signal that no limit of the build explains, SourceCrash
    when it died of a crash signal of its own."""
    if returncode is None or returncode == 0:
        return None
    if returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU:
            return CPU
        if number == signal.SIGXFSZ:
            return OUTPUT
        if number in _CRASH_SIGNALS and _OUT_OF_MEMORY.search(output):
            return MEMORY
        if number in _CRASH_SIGNALS:
            raise SourceCrash(_signal_name(number))
        raise PlatformFault(f"the compiler was killed by {_signal_name(number)}")
    if _OUT_OF_MEMORY.search(output):
        return MEMORY
    if _TOO_LARGE.search(output):
        return OUTPUT
    return None


def describe(
    limit: str, *, memory_mb: int, cpu_seconds: int, file_mb: int, disk_mb: int = 256
) -> str:
    """The user's message for a limit, naming it and its size."""
    if limit == DISK:
        return f"the build wrote more than {disk_mb} MB (its disk limit)"
    if limit == MEMORY:
        return f"the build exceeded its memory limit ({memory_mb} MiB)"
    if limit == CPU:
        return f"the build exceeded its CPU time limit ({cpu_seconds} s)"
    return f"the build exceeded its output size limit ({file_mb} MiB per file)"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
