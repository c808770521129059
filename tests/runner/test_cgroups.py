"""Local runner cgroups: a runner's group is made with its limits and removed when the
runner is gone (an outside attack found one empty group left per reaped runner)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from runner import cgroups
from runner.launchers.process import ProcessHandle


def _group_dirs(name: str) -> list:
    return [
        group
        for group in (
            cgroups.ROOT / "nil" / name,
            *(cgroups.ROOT / c / "nil" / name for c in cgroups.CONTROLLERS_V1),
        )
        if group.is_dir()
    ]


def test_a_runners_cgroup_is_removed_when_it_is_killed():
    name = f"test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    limits = cgroups.CgroupLimits(memory_bytes=64 << 20, pids=16, cpu_quota=0.5)
    try:
        if not cgroups.apply(proc.pid, name, limits):
            pytest.skip(f"cgroups are not writable here (uid {os.getuid()})")
        assert _group_dirs(name), "apply() reported success but made no group"
        ProcessHandle(name, proc).kill()
        assert proc.poll() is not None
        assert _group_dirs(name) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cgroups.remove(name)
