"""CPU seconds spent by each kind of process of the platform during a stretch of load:
what bounds throughput on a machine whose cores the gateway, PostgreSQL, the runners,
the invocation workers and the bench's own client all share."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from tools.platform import LocalPlatform

KINDS = ("gateway", "postgres", "runner", "invoker", "client", "other")


def _kind(command: str) -> str:
    if "postgres" in command:
        return "postgres"
    if "gunicorn" in command or "-m gateway" in command:
        return "gateway"
    if "-m invoker" in command:
        return "invoker"
    if "-m runner" in command:  # keepers, workers and the supervisor
        return "runner"
    return "other"  # builder, consumer, scheduler, toolchains


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def snapshot(platform: LocalPlatform) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each process of `platform` (its services and their
    children, its PostgreSQL server and backends) and of this process, the client."""
    roots = [psutil.Process(m.proc.pid) for m in platform.processes if m.proc is not None]
    home = str(platform.home)
    for process in psutil.process_iter():
        try:
            if "postgres" in process.name() and home in " ".join(process.cmdline()):
                roots.append(process)  # the postmaster: its data directory is in `home`
        except psutil.Error:
            continue
    found = {}
    me = psutil.Process()
    for process in [me] + [p for root in roots for p in _tree(root)]:
        try:
            kind = "client" if process.pid == me.pid else _kind(" ".join(process.cmdline()))
            times = process.cpu_times()
            found[process.pid] = (kind, times.user + times.system)
        except psutil.Error:  # gone meanwhile
            continue
    return found


def per_call_ms(before: dict, after: dict, calls: int) -> dict[str, float]:
    """Milliseconds of CPU per call by kind, over the processes alive at both ends."""
    spent = dict.fromkeys(KINDS, 0.0)
    for pid, (kind, seconds) in after.items():
        if pid in before:
            spent[kind] += seconds - before[pid][1]
    return {kind: spent[kind] / calls * 1000 for kind in KINDS}


def describe(ms: dict[str, float]) -> str:
    parts = [f"{kind} {ms[kind]:.2f}" for kind in KINDS if ms[kind] >= 0.005]
    return " + ".join(parts) + f" = {sum(ms.values()):.2f} ms"


def quiet(platform: LocalPlatform, *, below: float = 0.15, timeout: float = 120.0) -> float:
    """Wait until the platform's processes together use less than `below` of a core over
    a second, and return the seconds waited. Just after it starts, the builder warms
    every toolchain (more than a core for ~15 s), and a runner compiles optimized tiers
    in the background: a latency measured beside that work is the machine's, not the
    path's. Idle, the platform uses ~0.06 of a core (heartbeats, PostgreSQL)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = snapshot(platform)
        time.sleep(1.0)
        after = snapshot(platform)
        busy = sum(
            seconds - before[pid][1]
            for pid, (kind, seconds) in after.items()
            if pid in before and kind != "client"
        )
        if busy < below:
            break
    return time.monotonic() - started
