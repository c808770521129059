"""The Python rows of `make bench` (issue 21): how long the runner takes to compile a
Python component on each tier, what one call costs in the runner with and without an
instance made ahead, and the idle runner's memory per cached component — plus the
verdicts on the figures language_figures measured through the gateway.

`python_rows(figures, wasm, smoke)` returns (what, figure, target, met) rows; `wasm` is
a Python component the bench built (any function). Everything heavy runs in child
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

Row = tuple[str, str, str, bool | None]
STACK = 512 * 1024


def python_figures(bench, url: str) -> None:
    """The hook in bench/run.py (after language_figures): the rows below, for the
    Python component the bench built last."""
    import psycopg

    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT a.wasm FROM artifacts a JOIN revisions r ON r.artifact_sha256 = a.sha256"
            " WHERE r.language = 'python' ORDER BY r.created_at DESC LIMIT 1"
        ).fetchone()
    if found is None:
        return
    for row in python_rows(bench.figures, bytes(found[0]), bench.smoke):
        bench.row(*row)


def python_rows(figures: dict, wasm: bytes, smoke: bool) -> list[Row]:
    rows: list[Row] = []
    ready, first = figures.get("python_ready_ms"), figures.get("python_first_ms")
    warm = figures.get("python_warm_ms")
    if ready is not None:
        rows.append(("Python POST → READY p50", f"{ready / 1000:.1f} s", "≤ 15 s", ready <= 15000))
    if first is not None:
        rows.append(
            ("  Python first execution after READY", f"{first:.1f} ms", "≤ 50 ms", first <= 50)
        )
    if warm is not None:
        rows.append(
            ("  Python warm execute p50", f"{warm['p50']:.2f} ms", "≤ 5 ms", warm["p50"] <= 5)
        )
    tiers = (("baseline", "Winch, before READY"), ("optimized", "Cranelift, background"))
    for tier, what in tiers if not smoke else ():  # a minute of compiling: full runs only
        seconds = _compile_seconds(wasm, tier)
        figures[f"python_compile_{tier}_s"] = seconds
        rows.append((f"  runner compile of the component ({what})", f"{seconds:.1f} s", "", None))
    calls = _child("calls", wasm, "40" if smoke else "400")
    figures["python_call_ms"] = calls
    rows.append(
        (
            "  Python call in the runner: fresh / made-ahead instance",
            f"{calls['fresh']:.2f}/{calls['prepared']:.2f} ms",
            "p50",
            None,
        )
    )
    count = 1 if smoke else 10
    rss = _child("rss", wasm, str(count))
    figures["python_rss"] = rss
    rows.append(
        (
            f"idle runner RSS, {count} Python functions cached",
            f"{rss['rss_mb']:.0f} MB",
            "≤ 150 MB",
            rss["rss_mb"] <= 150,
        )
    )
    rows.append(("  per cached Python component", f"{rss['per_component_mb']:.1f} MB", "", None))
    return rows


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
    """`wasm` with a custom section naming `n`: another sha256, the same code."""
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
    from runner.executor import Executor
    from runner.settings import Settings

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
