"""Issue 21's Python rows of `make bench`: POST → READY and the first execution after
it, warm executions, and the idle runner's RSS with Python components cached.

This is the hook the table calls (`python_rows`); the Python build / warm-call work
owns what it measures. Each row is printed with Bench.row and the key of issue 21's
table (bench/run.py, ISSUE_21), so it appears in the closing summary with its target.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil

from bench.measure import summary, timed
from common import runner_dir as rd
from common.runners import Runner

if TYPE_CHECKING:
    from bench.run import Api, Bench
    from tools.platform import LocalPlatform

READY_TARGET_MS = 15_000
FIRST_TARGET_MS = 50.0
WARM_TARGET_MS = 5.0
RSS_TARGET_MB = 150.0
CACHED = 10  # Python functions cached in the runners for the RSS row


def runner_rss_mb(platform: LocalPlatform) -> list[float]:
    """Each runner's RSS (the process its health names), in MB."""
    found = []
    for sock in rd.shared_sockets(platform.home / "runners"):
        pid = Runner(f"unix:{sock}").health().pid
        process = psutil.Process(pid)
        found.append(process.memory_info().rss / 2**20)
    return found


def python_rows(bench: Bench, api: Api, platform: LocalPlatform) -> None:
    from tools.guide import examples, with_comment

    [example] = [e for e in examples() if e["language"] == "python" and "sum" in e["output"]]
    value = example["input"]
    baseline = max(runner_rss_mb(platform))
    builds = bench.n(CACHED, 1)
    ready, first, fid = [], [], ""
    for i in range(builds):
        source = with_comment("python", example["source"], f"bench {time.time_ns()} {i}")
        fid, took = api.register(f"bench-python-{i}", "python", source)
        ready.append(took)
        first.append(timed(lambda f=fid: api.execute_input(f, value), 1)[0])
    for _ in range(20):
        api.execute_input(fid, value)
    warm = summary(timed(lambda: api.execute_input(fid, value), bench.n(300, 20)))
    ready_p50, first_p50 = summary(ready)["p50"], summary(first)["p50"]
    bench.figures["python_ready_ms"] = ready_p50
    bench.figures["python_first_ms"] = first_p50
    bench.figures["python_warm_ms"] = warm
    bench.row(
        "python add: POST → READY",
        f"{ready_p50:.0f} ms p50",
        f"≤ {READY_TARGET_MS} ms",
        ready_p50 <= READY_TARGET_MS,
        key="python_ready",
    )
    bench.row(
        "  python: first execution after READY",
        f"{first_p50:.1f} ms p50",
        f"≤ {FIRST_TARGET_MS:.0f} ms",
        first_p50 <= FIRST_TARGET_MS,
        key="python_first",
    )
    bench.row(
        "  python: warm execute through the gateway",
        f"{warm['p50']:.2f}/{warm['p95']:.2f} ms",
        f"p50 ≤ {WARM_TARGET_MS:.0f} ms",
        warm["p50"] <= WARM_TARGET_MS,
        key="python_warm",
    )
    time.sleep(1.0)  # idle
    rss = runner_rss_mb(platform)
    each = (max(rss) - baseline) / builds
    bench.figures["python_runner_rss_mb"] = {"runners": rss, "before": baseline, "cached": builds}
    bench.row(
        f"idle runner RSS, {builds} Python functions cached",
        f"{max(rss):.0f} MB",
        f"≤ {RSS_TARGET_MB:.0f} MB (before: {baseline:.0f})",
        max(rss) <= RSS_TARGET_MB,
        key="python_rss",
    )
    bench.row("  per cached Python component", f"{each:.1f} MB", key="python_rss_each")
