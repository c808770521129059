"""How a confined compile ended, from its exit status and what it printed.

Only a limit the build itself hit is the user's failure: its memory cap (an allocation
the compiler could not get), its CPU time (SIGXCPU) or its output size (SIGXFSZ). A
compiler killed by any other signal (the kernel's OOM killer acting on the whole
builder, an operator, a crash) is the platform's failure and the job is retried.
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
_CRASH_SIGNALS = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGTRAP}


class PlatformFault(Exception):
    """The compiler was stopped by something other than the build's own limits."""


def limit_hit(returncode: int | None, output: str) -> str | None:
    """The limit a finished compile ran into, if any; raises PlatformFault when the
    compiler died of a signal that no limit of the build explains."""
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
