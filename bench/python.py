"""Issue 21's Python rows of `make bench`, through the platform and in the runner alone.

Through the platform (`python_rows`): POST → READY and the first execution after it,
warm executions, and the idle runners' RSS with Python functions cached, each printed
with the key of issue 21's table (bench/run.py, ISSUE_21) so it appears in the closing
summary with its target. In the runner alone (`runner_rows`, on the component built
last): the compile on each tier, one call with a fresh instance against one made ahead,
and one executor's memory per cached component. Everything heavy there runs in child
processes, so the bench process's own memory and engines stay out of the figures.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from bench import cpu
from bench.measure import summary, timed
from common import python_slot
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
    return [memory["rss"] for memory in runner_memory_mb(platform)]


def runners(platform: LocalPlatform) -> list[Runner]:
    """The platform's shared runners."""
    return [Runner(f"unix:{sock}") for sock in rd.shared_sockets(platform.home / "runners")]


def runner_memory_mb(platform: LocalPlatform) -> list[dict[str, float]]:
    """Each runner's RSS, and the part of it that is file-backed (mapped artifacts'
    code and data: page cache, shared by every process mapping the file, reclaimable
    by the kernel), in MB."""
    found = []
    for runner in runners(platform):
        pid = runner.health().pid
        status = Path(f"/proc/{pid}/status")
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        file_kb = int(fields.get("RssFile", "0 kB").split()[0])
        rss = psutil.Process(pid).memory_info().rss / 2**20
        found.append({"rss": rss, "file": file_kb / 1024})
    return found


def settled(platform: LocalPlatform, timeout: float = 300.0) -> None:
    """Until no runner has a background optimized compile to do, then a second more:
    a runner mid-upgrade holds the new artifact twice (its bytes and a copy) for a
    while — busy, not idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(runner.health().upgrading for runner in runners(platform)):
            break
        time.sleep(0.5)
    time.sleep(1.0)


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
    cpu.quiet(platform)  # the runners' background compiles of the new templates, if any
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
    settled(platform)
    memory = runner_memory_mb(platform)
    rss = [m["rss"] for m in memory]
    each = (max(rss) - baseline) / builds
    bench.figures["python_runner_rss_mb"] = {
        "runners": memory,
        "before": baseline,
        "cached": builds,
    }
    bench.row(
        f"idle runner RSS, {builds} Python functions cached",
        f"{max(rss):.0f} MB",
        f"≤ {RSS_TARGET_MB:.0f} MB (before: {baseline:.0f})",
        max(rss) <= RSS_TARGET_MB,
        key="python_rss",
    )
    bench.row("  per cached Python component", f"{each:.1f} MB", key="python_rss_each")
    biggest = max(memory, key=lambda m: m["rss"])
    bench.row(
        "  of that runner's RSS: anonymous / file-backed (mapped artifacts)",
        f"{biggest['rss'] - biggest['file']:.0f} / {biggest['file']:.0f} MB",
    )
    runner_rows(bench, platform.database_url)


Row = tuple[str, str, str, bool | None]
STACK = 512 * 1024


def runner_rows(bench: Bench, url: str) -> None:
    """The runner-alone rows, for the Python component the bench built last."""
    import psycopg

    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT a.wasm FROM artifacts a JOIN revisions r ON r.artifact_sha256 = a.sha256"
            " WHERE r.language = 'python' ORDER BY r.created_at DESC LIMIT 1"
        ).fetchone()
    if found is None:
        return
    wasm = bytes(found[0])
    tiers = (("baseline", "Winch, before READY"), ("optimized", "Cranelift, background"))
    for tier, what in tiers if not bench.smoke else ():  # a minute of compiling: full runs only
        seconds = _compile_seconds(wasm, tier)
        bench.figures[f"python_compile_{tier}_s"] = seconds
        bench.row(f"  runner compile of the component ({what})", f"{seconds:.1f} s")
    calls = _child("calls", wasm, "40" if bench.smoke else "400")
    bench.figures["python_call_ms"] = calls
    bench.row(
        "  Python call in the runner: fresh / made-ahead instance",
        f"{calls['fresh']:.2f}/{calls['prepared']:.2f} ms p50",
    )
    count = 1 if bench.smoke else 10
    rss = _child("rss", wasm, str(count))
    bench.figures["python_executor_rss"] = rss
    bench.row(
        f"  one executor alone (Winch tier only), {count} Python components cached",
        f"{rss['rss_mb']:.0f} MB ({rss['per_component_mb']:.1f} MB each)",
    )


def _compile_seconds(wasm: bytes, tier: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "runner.compile_child", "component", str(STACK), tier],
        input=wasm,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def _child(what: str, wasm: bytes, arg: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".wasm") as file:
        file.write(wasm)
        file.flush()
        done = subprocess.run(
            [sys.executable, "-m", "bench.python", what, file.name, arg],
            capture_output=True,
            check=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def variant(wasm: bytes, n: int) -> bytes:
    """`wasm` as another function (another sha256) with the same code: a function made
    from a template gets a comment in its slot's source (it still runs on the same
    template), any other component a custom section naming `n`."""
    found = python_slot.template_of(wasm)
    if found is not None:
        template, slot = found
        source, code = python_slot.contents(slot)
        offset = wasm.find(python_slot.MARKER + python_slot.FUNCTION)
        return python_slot.fill(template, offset, f"{source}\n# variant {n}\n", code)
    name, payload = b"nil-bench", str(n).encode()
    body = _leb(len(name)) + name + payload
    return wasm + b"\x00" + _leb(len(body)) + body


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _calls(wasm: bytes, count: int) -> dict:
    """p50 of one call, fresh instance against one made ahead (interleaved)."""
    from common.contracts import ExecuteRequest, Limits
    from runner.executor import Executor
    from runner.settings import Settings

    executor = Executor(Settings(baseline_components=False))
    sha = hashlib.sha256(wasm).hexdigest()
    executor.load_module(sha, "python", wasm)
    request = ExecuteRequest(sha, '{"a": 1, "b": 2}', Limits(10_000, 128, 20_000_000_000))
    samples: dict[str, list[float]] = {"fresh": [], "prepared": []}
    for i in range(count):
        ahead = i % 2 == 0
        executor.execute(request)
        if not ahead:
            executor._next = None  # only free the last store
        executor.idle()
        started = time.perf_counter()
        executor.execute(request)
        samples["prepared" if ahead else "fresh"].append((time.perf_counter() - started) * 1000)
        executor._next = None
        executor.idle()
    return {k: statistics.median(v) for k, v in samples.items()}


def _rss(wasm: bytes, count: int) -> dict:
    """A runner's executor with `count` Python components cached (each called once, the
    next instance of the last one made ahead), as it is when idle."""
    import psutil

    from common.contracts import ExecuteRequest, Limits
    from runner import malloc
    from runner.executor import Executor
    from runner.settings import Settings

    malloc.return_large_blocks()  # as the runner does (runner/keeper.py)
    with tempfile.TemporaryDirectory() as directory:
        executor = Executor(Settings(artifact_dir=directory, optimize_in_background=False))
        gc.collect()
        before = psutil.Process().memory_info().rss
        for n in range(count):
            module = variant(wasm, n)
            sha = hashlib.sha256(module).hexdigest()
            executor.load_module(sha, "python", module)
            executor.execute(ExecuteRequest(sha, '{"a": 1, "b": 2}', Limits(10_000, 128, 10**10)))
            executor.idle()
        gc.collect()
        after = psutil.Process().memory_info().rss
    return {
        "rss_mb": after / 2**20,
        "base_mb": before / 2**20,
        "per_component_mb": (after - before) / count / 2**20,
        "count": count,
    }


if __name__ == "__main__":
    what, path, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, "rb") as source:
        module_bytes = source.read()
    result = _calls(module_bytes, arg) if what == "calls" else _rss(module_bytes, arg)
    print(json.dumps(result), flush=True)
    os._exit(0)  # daemon threads (the epoch ticker) need no goodbye
