"""Landlock, through its three system calls: the kernel's own file-system and network
confinement for unprivileged processes (Linux ≥ 5.13; ABI 4 adds TCP, ABI 6 scoping).

A process that calls `restrict_self` (and everything it starts afterwards) can open only
the paths the ruleset allows, for the access rights it allows; nothing it does can undo
that. It needs no privilege and works inside a default Docker or Kubernetes container.
Landlock does not hide metadata: `stat` and `readlink` still work on every path.
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterable

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_VERSION_FLAG = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
READ = READ_FILE | READ_DIR
READ_EXECUTE = READ | EXECUTE
EVERYTHING = (1 << 16) - 1  # read, write, create, remove: the job's own directory
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14) | (1 << 15)  # + truncate, ioctl
_NET_TCP = 0b11  # bind and connect (ABI ≥ 4)
_SCOPES = 0b11  # abstract unix sockets and signals (ABI ≥ 6)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockUnavailable(OSError):
    """This kernel cannot confine a process with Landlock."""


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when Landlock is absent or disabled)."""
    version = _libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _VERSION_FLAG)
    return max(int(version), 0)


def fs_rights(abi: int) -> int:
    """Every file-system right this ABI knows: all of them are denied unless granted."""
    return _FS_BY_ABI[max(k for k in _FS_BY_ABI if k <= abi)]


def create_ruleset(rules: Iterable[tuple[str, int]]) -> int:
    """A ruleset allowing only `rules` (path, rights), denying TCP and (ABI ≥ 6) signals
    and abstract unix sockets outside the confined process tree. Paths are opened now,
    so this runs before a process gives up the rights to reach them."""
    abi = abi_version()
    if abi < 1:
        raise LandlockUnavailable("Landlock is not available in this kernel")
    handled = fs_rights(abi)
    attr = struct.pack("QQQ", handled, _NET_TCP if abi >= 4 else 0, _SCOPES if abi >= 6 else 0)
    attr = attr[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = _call(_CREATE_RULESET, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)), 0)
    try:
        for path, rights in rules:
            _add_path_rule(ruleset, path, rights & handled)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def no_new_privs() -> None:
    """No exec from now on can gain privileges (set-uid files, file capabilities)."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def restrict_self(ruleset: int) -> None:
    """Confine this process, and all it starts from now on, to the ruleset: for good."""
    try:
        no_new_privs()
        _call(_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS  # directory rights on a file are an error
        attr = struct.pack("=Qi", rights, fd)  # packed: u64 allowed_access, s32 parent_fd
        _call(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.c_char_p(attr), 0)
    finally:
        os.close(fd)


def _call(number: int, *args: object) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"landlock syscall {number}: {os.strerror(errno)}")
    return int(result)
