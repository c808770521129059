"""Give large freed blocks back to the kernel.

glibc raises its mmap threshold each time a large mmapped block is freed (up to
32 MiB), after which the runner's large, short-lived buffers — a 20 MB component's
bytes on their way to the compiler, its artifact, a big input or output — come from
the heap and stay in the process when freed. Measured with three Python components
loaded and called: 99 MB of heap afterwards with the dynamic threshold, 12 MB with a
fixed one (bench/python.py's executor RSS row). A fixed threshold turns the
adjustment off; the cost is an mmap/munmap pair per block above 128 KiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
THRESHOLD_BYTES = 128 * 1024  # glibc's initial value


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
