"""No sockets at all: a four-instruction seccomp filter that makes `socket(2)` fail.

Landlock denies TCP bind/connect; this closes what it leaves open (UDP, raw and netlink
sockets, unix sockets to a database's or a daemon's socket file). No compiler needs a
socket. Any system call of a foreign ABI (i386, x32) fails too, so the filter cannot be
side-stepped. Installing a filter needs no privilege once `no_new_privs` is set, and
Docker's and Kubernetes' default seccomp profiles allow it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_LD_ABS_W, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_X32_BIT = 0x40000000
# audit architecture and socket(2)'s number, per machine
_ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}

_libc = ctypes.CDLL(None, use_errno=True)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def supported() -> bool:
    return platform.machine() in _ARCHES


def deny_sockets() -> None:
    """From now on `socket(2)` fails with EACCES in this process and all it starts."""
    arch, socket_nr = _ARCHES[platform.machine()]
    deny = _ERRNO | errno.EACCES
    instructions = [
        (_LD_ABS_W, 0, 0, 4),  # the call's architecture
        (_JEQ_K, 0, 4, arch),  # foreign: deny
        (_LD_ABS_W, 0, 0, 0),  # the call's number
        (_JGE_K, 2, 0, _X32_BIT),  # x32 ABI: deny
        (_JEQ_K, 1, 0, socket_nr),  # socket(2): deny
        (_RET_K, 0, 0, _ALLOW),
        (_RET_K, 0, 0, deny),
    ]
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in instructions)
    program = _Program(len(instructions), code)
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"prctl(PR_SET_SECCOMP) failed: {os.strerror(number)}")
