"""What one build has written, summed while it runs; and ending a build that wrote too much.

RLIMIT_FSIZE caps each file a build writes, not their sum, and no unprivileged kernel
mechanism caps a directory's total (quotas and a sized tmpfs need privileges the
builder does not have). So the process that started a confined build sums, every
`INTERVAL` seconds, the blocks allocated under the job's directory (each entry
counted as at least one 4 KiB block, so a flood of empty files counts too) and of
the files the build's processes hold open after deleting them. Past the cap, every
process of the build is killed.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path

INTERVAL = 0.1
MIN_ENTRY_BYTES = 4096
_FD_SCAN_EVERY = 5  # open-but-deleted files are looked for every 5th round (a /proc scan)


def written_bytes(work: Path, cap: int) -> int:
    """Bytes allocated under `work`; stops counting once past `cap`."""
    total = 0
    stack = [str(work)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(info.st_blocks * 512, MIN_ENTRY_BYTES)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
                if total > cap:
                    return total
    return total


def build_processes(root: int) -> set[int]:
    """`root` and its descendants, and — when the caller leads its session, as a compiler
    worker does — every other live process of the caller's group (a confined compile runs
    in its worker's group, so what it left behind is found too)."""
    me = os.getpid()
    group = os.getpgid(0) if os.getsid(0) == me else None
    children: dict[int, list[int]] = {}
    found = {root}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        if pid == me or fields[0] == b"Z":
            continue
        children.setdefault(int(fields[1]), []).append(pid)
        if group is not None and int(fields[2]) == group:
            found.add(pid)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def deleted_open_bytes(pids: list[int]) -> int:
    """Blocks of regular files these processes hold open with no name left."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 0 and key not in seen:
                seen.add(key)
                total += info.st_blocks * 512
    return total


def kill_build(proc: subprocess.Popen[bytes]) -> None:
    """Stop every process of the build (so none can start another), kill them all,
    and reap the build."""
    stopped: set[int] = set()
    for _ in range(50):
        fresh = build_processes(proc.pid) - stopped
        if not fresh:
            break
        for pid in fresh:
            _signal(pid, signal.SIGSTOP)
        stopped |= fresh
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    proc.wait()


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def watch(proc: subprocess.Popen[bytes], work: Path, cap: int) -> bool:
    """Wait for the build; True when it wrote more than `cap` bytes and was killed."""
    rounds = 0
    while True:
        try:
            proc.wait(timeout=INTERVAL)
            return False
        except subprocess.TimeoutExpired:
            pass
        if cap <= 0:
            continue
        used = written_bytes(work, cap)
        rounds += 1
        if used <= cap and rounds % _FD_SCAN_EVERY == 0:
            used += deleted_open_bytes(build_processes(proc.pid))
        if used > cap:
            kill_build(proc)
            return True
