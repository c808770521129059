"""The benchmark's smoke mode runs in CI, so `make bench` cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_bench_smoke_prints_every_figure_and_writes_json():
    before = set((ROOT / "bench" / "results").glob("*-smoke.json"))
    # the runner image of this worktree's `make images IMAGE_TAG=…` (a shared engine)
    image = f"nil-runner:{os.environ.get('NIL_TEST_IMAGE_TAG', 'dev')}"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--runner-image", image],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for figure in (
        "in-process wasmtime",
        "warm execute through the gateway",
        "throughput at concurrency 16",
        "first execution after READY (runner warmed before READY)",
        "container per execution",
        "AssemblyScript echo: POST → READY",
        "AssemblyScript add: POST → READY",
        "deploy: AssemblyScript PUT → first execution on it",
        "rollback: request → first execution on the old",
        "GET /functions/{id}/executions",
        "idle runner RSS",
        "gateway worker RSS",
        *(
            f"{language} add: POST → READY"
            for language in ("python", "c", "zig", "assemblyscript", "wat")
        ),
        "python: warm execute through the gateway",
        "route call (/fn/…) p50 over execute p50",
        "async invocations completed per second",
        "per cached Python component",
        "Issue 21 (performance, round two):",
        "Python call in the runner: fresh / made-ahead instance",
        "one executor alone (Winch tier only), 1 Python components cached",
    ):
        assert figure in run.stdout, figure
    [written] = set((ROOT / "bench" / "results").glob("*-smoke.json")) - before
    result = json.loads(written.read_text())
    assert result["smoke"] is True
    assert result["figures"]["floor_ms"] > 0
    assert result["figures"]["warm_ms"]["p50"] > result["figures"]["floor_ms"]
    written.unlink()
