"""Best-effort cgroup limits for local runner processes (v2 unified, else v1).

Used only where the machine lets this process create cgroups; otherwise runners
run without them and the supervisor says so once. Never an address-space rlimit:
wasmtime reserves large virtual regions per memory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)
ROOT = Path("/sys/fs/cgroup")
CONTROLLERS_V1 = ("memory", "pids", "cpu")


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int
    pids: int
    cpu_quota: float  # CPUs, e.g. 1.0


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def apply(pid: int, name: str, limits: CgroupLimits) -> bool:
    """Put `pid` in its own cgroup with the limits; False where cgroups are not writable."""
    try:
        if (ROOT / "cgroup.controllers").exists():
            group = ROOT / "nil" / name
            group.mkdir(parents=True, exist_ok=True)
            _write(group / "memory.max", str(limits.memory_bytes))
            _write(group / "pids.max", str(limits.pids))
            _write(group / "cpu.max", f"{int(limits.cpu_quota * 100000)} 100000")
            _write(group / "cgroup.procs", str(pid))
            return True
        written = False
        for controller, settings in (
            ("memory", {"memory.limit_in_bytes": str(limits.memory_bytes)}),
            ("pids", {"pids.max": str(limits.pids)}),
            (
                "cpu",
                {
                    "cpu.cfs_period_us": "100000",
                    "cpu.cfs_quota_us": str(int(limits.cpu_quota * 100000)),
                },
            ),
        ):
            base = ROOT / controller
            if not base.is_dir() or not os.access(base, os.W_OK):
                continue
            group = base / "nil" / name
            group.mkdir(parents=True, exist_ok=True)
            for file, value in settings.items():
                _write(group / file, value)
            _write(group / "cgroup.procs", str(pid))
            written = True
        return written
    except OSError as exc:
        logger.info("cgroups.unavailable", extra={"error": str(exc)})
        return False


def remove(name: str) -> None:
    """Remove the (empty) cgroup of a runner that exited, so dedicated runners reaped
    over a day do not leave one directory each. Best effort: a group still holding a
    process (a successor placed under the same name) stays."""
    for group in (ROOT / "nil" / name, *(ROOT / c / "nil" / name for c in CONTROLLERS_V1)):
        try:
            group.rmdir()
        except OSError:
            pass
