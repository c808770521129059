"""The benchmark: starts what it needs, measures everything in one run, prints one
table with the targets and writes the figures to bench/results/."""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import requests

from bench import cpu
from bench.measure import summary, throughput, timed
from bench.python import python_rows, runner_rss_mb
from common import runner_dir as rd
from common.contracts import ExecuteRequest, Limits
from common.runners import Runner
from common.runners.transport import Connections
from db import migrate
from gateway.settings import Settings as GatewaySettings
from tools.platform import (
    LocalPlatform,
    free_port,
    start_embedded_postgres,
    stop_embedded_postgres,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
RESULTS = ROOT / "bench" / "results"


class Api:
    """A lean keep-alive HTTP client per thread (like wrk or hey would be): the figures
    measure the platform, not the client library. `session` (requests) is used only
    for the non-timed setup calls."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        payload = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()  # the server closed an idle keep-alive connection: reconnect once
            conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
        return response.status, response.read()

    def register(self, name: str, language: str, source: str) -> tuple[str, float]:
        """Create a function; return its id and the ms from POST to READY."""
        started = time.perf_counter()
        fid = self.session.post(
            f"{self.base}/functions",
            json={"name": name, "language": language, "source": source},
            timeout=30,
        ).json()["id"]
        while True:
            status = self.session.get(f"{self.base}/functions/{fid}", timeout=30).json()["status"]
            if status in ("READY", "FAILED"):
                break
            time.sleep(0.002)
        if status != "READY":
            raise RuntimeError(f"{name} failed to compile")
        return fid, (time.perf_counter() - started) * 1000

    def execute(self, fid: str, n: int = 0) -> dict:
        return self.execute_input(fid, {"n": n})

    def execute_input(self, fid: str, value: dict) -> dict:
        status, raw = self.call("POST", f"/functions/{fid}/execute", {"input": value})
        body = json.loads(raw)
        if status != 200 or body["status"] != "COMPLETED":
            raise RuntimeError(f"execute failed: {status} {body}")
        return body


# Issue 21's table, in its order: the key of each row (Bench.row(..., key=)) and what it
# is called there. `make bench` ends with these rows again, each with its target and
# met / NOT MET; a row whose figure was not measured says so.
ISSUE_21 = (
    ("warm", "warm execute p50 / p99 through the gateway"),
    ("floor_ratio", "p50 ÷ in-process floor"),
    ("c16", "throughput at concurrency 16"),
    ("async", "async invocations completed per second (2 workers)"),
    ("route", "route call (/fn/…) p50 over execute p50"),
    ("python_ready", "Python POST → READY p50"),
    ("python_first", "Python first execution after READY"),
    ("python_warm", "Python warm execute p50"),
    ("python_rss", "idle runner RSS with 10 Python functions cached"),
    ("python_rss_each", "  per cached Python component"),
)


class Bench:
    def __init__(self, smoke: bool) -> None:
        self.smoke = smoke
        self.figures: dict[str, object] = {}
        self.rows: list[tuple[str, str, str, str]] = []
        self.keyed: dict[str, tuple[str, str, str, str]] = {}

    def n(self, full: int, smoke: int) -> int:
        return smoke if self.smoke else full

    def row(
        self, what: str, figure: str, target: str = "", met: bool | None = None, key: str = ""
    ) -> None:
        verdict = "" if met is None else ("met" if met else "NOT MET")
        self.rows.append((what, figure, target, verdict))
        if key:
            self.keyed[key] = (what, figure, target, verdict)
        print(f"  {what:<58} {figure:>22}  {target:<26} {verdict}", flush=True)

    def issue_21_table(self) -> None:
        print("\nIssue 21 (performance, round two):", flush=True)
        for key, name in ISSUE_21:
            _, figure, target, verdict = self.keyed.get(key, (name, "not measured", "", ""))
            print(f"  {name:<58} {figure:>22}  {target:<26} {verdict}", flush=True)


def in_process_floor(bench: Bench, wasm: bytes) -> float:
    from runner.executor import Executor
    from runner.settings import Settings

    executor = Executor(Settings())
    sha = hashlib.sha256(wasm).hexdigest()
    executor.load_module(sha, "assemblyscript", wasm)
    request = ExecuteRequest(sha, '{"n":0}', Limits(10_000, 64, 2_000_000_000))
    timed(lambda: executor.execute(request), 50)
    samples = timed(lambda: executor.execute(request), bench.n(2000, 100))
    floor = summary(samples)["p50"]
    bench.figures["floor_ms"] = floor
    bench.row("in-process wasmtime: fresh instance + handle (echo)", f"{floor:.3f} ms p50")
    return floor


def runner_client_figures(bench: Bench, platform: LocalPlatform, wasm: bytes, floor: float):
    """The same echo through the runner client (keep-alive frames to a runner process)."""

    [sock, *_] = rd.shared_sockets(platform.home / "runners")
    runner = Runner(f"unix:{sock}")
    request = ExecuteRequest(hashlib.sha256(wasm).hexdigest(), '{"n":0}', Limits(10_000, 64, 10**9))

    def call() -> None:
        runner.run(request, language="assemblyscript", load_module=lambda: wasm)

    timed(call, 50)
    stats = summary(timed(call, bench.n(2000, 100)))
    bench.figures["runner_client_ms"] = stats
    bench.row(
        "warm execute through the runner client (one runner)",
        f"{stats['p50']:.3f} ms p50",
        f"{stats['p50'] / floor:.1f}x the floor",
    )


def compile_figures(bench: Bench, api: Api) -> None:
    for name in ("echo", "add"):
        source = (FIXTURES / f"{name}.ts").read_text()
        samples = [
            api.register(f"bench-{name}-{i}", "assemblyscript", f"{source}\n// {time.time_ns()}\n")[
                1
            ]
            for i in range(bench.n(10, 1))
        ]
        ready = summary(samples)["p50"]
        cli = summary(timed(lambda s=source: asc_cli(s), bench.n(3, 1)))["p50"]
        bench.figures[f"compile_{name}_ms"] = ready
        bench.figures[f"asc_cli_{name}_ms"] = cli
        bench.row(
            f"AssemblyScript {name}: POST → READY",
            f"{ready:.0f} ms p50",
            "≤ 1000 ms, < asc CLI",
            ready <= 1000 and ready < cli,
        )
        bench.row(
            "  one asc CLI run on the same source", f"{cli:.0f} ms", f"ratio {cli / ready:.1f}x"
        )


def echo_variant(n: int) -> str:
    """An AssemblyScript echo whose artifact differs per n (a branch no input takes)."""
    return (
        "export function handle(input: string): string {\n"
        f'  if (input.length == {1_000_000 + n}) return "v{n}";\n'
        "  return input;\n}\n"
    )


def deploy_figures(bench: Bench, api: Api) -> None:
    """A deploy: a PUT of new source, executing all along, until an execution runs the
    new revision (p50 of 10); a rollback: the request until an execution runs the old one."""
    fid, _ = api.register("bench-deploy", "assemblyscript", echo_variant(0))
    deploys, rollbacks, failed = [], [], 0
    for revision in range(2, 12):
        body = {"name": "bench-deploy", "language": "assemblyscript"}
        started = time.perf_counter()
        api.session.put(
            f"{api.base}/functions/{fid}", json={**body, "source": echo_variant(revision)}
        ).raise_for_status()
        while True:
            status, raw = api.call("POST", f"/functions/{fid}/execute", {"input": {}})
            failed += status != 200
            if status == 200 and json.loads(raw)["revision"] == revision:
                break
            time.sleep(0.01)  # leave the CPU to the build
        deploys.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        status, _ = api.call("POST", f"/functions/{fid}/rollback")
        ran = json.loads(api.call("POST", f"/functions/{fid}/execute", {"input": {}})[1])
        rollbacks.append((time.perf_counter() - started) * 1000)
        if status != 200 or ran["revision"] != revision - 1:
            raise RuntimeError(f"rollback to {revision - 1} ran {ran.get('revision')}")
        api.call("PUT", f"/functions/{fid}/aliases/live", {"revision": "latest"})
    deploy, rollback = summary(deploys)["p50"], summary(rollbacks)["p50"]
    bench.figures["deploy_ms"] = {"p50": deploy, "failed_executions": failed}
    bench.figures["rollback_ms"] = rollback
    bench.row(
        "deploy: AssemblyScript PUT → first execution on it",
        f"{deploy:.0f} ms p50",
        f"{failed} executions failed",
        failed == 0,
    )
    bench.row("rollback: request → first execution on the old", f"{rollback:.1f} ms p50")


def asc_cli(source: str) -> None:
    from builder.toolchains.assemblyscript import node_binary
    from builder.toolchains.base import TOOLCHAIN_DIR

    with tempfile.TemporaryDirectory() as tmp:
        entry = Path(tmp) / "function.ts"
        entry.write_text(source)
        args = [
            node_binary(),
            str(TOOLCHAIN_DIR / "node_modules" / "assemblyscript" / "bin" / "asc.js"),
            str(entry),
            "-o",
            str(Path(tmp) / "out.wasm"),
            "--exportRuntime",
            "--runtime",
            "incremental",
            "--optimize",
        ]
        if "json-as" in source:
            args += ["--transform", "json-as/transform"]
        subprocess.run(args, cwd=TOOLCHAIN_DIR, check=True, capture_output=True)


def language_figures(bench: Bench, api: Api) -> None:
    """Per language, the guide's `add`: POST → READY, the first execution after READY
    (the runner was warmed before READY), and warm executions through the gateway."""
    from tools.guide import examples, with_comment

    adds = [e for e in examples() if "sum" in e["output"] and e["language"] != "python"]
    for example in adds:
        language = example["language"]
        builds = bench.n(3 if language == "python" else 5, 1)
        ready, first, fid = [], [], ""
        value = example["input"]
        for i in range(builds):
            source = with_comment(language, example["source"], f"bench {time.time_ns()} {i}")
            fid, took = api.register(f"bench-{language}-{i}", language, source)
            ready.append(took)
            first.append(timed(lambda f=fid, v=value: api.execute_input(f, v), 1)[0])
        for _ in range(20):
            api.execute_input(fid, value)
        warm = summary(timed(lambda f=fid, v=value: api.execute_input(f, v), bench.n(300, 20)))
        ready_p50, first_p50 = summary(ready)["p50"], summary(first)["p50"]
        bench.figures[f"{language}_ready_ms"] = ready_p50
        bench.figures[f"{language}_first_ms"] = first_p50
        bench.figures[f"{language}_warm_ms"] = warm
        bench.row(f"{language} add: POST → READY", f"{ready_p50:.0f} ms p50")
        bench.row(f"  {language}: first execution after READY", f"{first_p50:.1f} ms p50")
        bench.row(
            f"  {language}: warm execute through the gateway",
            f"{warm['p50']:.2f}/{warm['p95']:.2f} ms",
            "p50/p95",
        )


def warm_figures(bench: Bench, api: Api, platform: LocalPlatform, fid: str, floor: float) -> float:
    """Sequential warm executions (p50/p99), their ratio to the in-process floor, and
    throughput at several concurrencies; returns the rate at concurrency 16."""
    for i in range(30):
        api.execute(fid, i)
    stats = summary(timed(lambda: api.execute(fid), bench.n(1000, 30)))
    bench.figures["warm_ms"] = stats
    ratio = stats["p50"] / floor
    bench.row(
        "warm execute through the gateway (sequential) p50/p95/p99",
        f"{stats['p50']:.2f}/{stats['p95']:.2f}/{stats['p99']:.2f} ms",
        "p50 ≤ 2.5, p99 ≤ 6 ms",
        stats["p50"] <= 2.5 and stats["p99"] <= 6.0,
        key="warm",
    )
    bench.row("  p50 / in-process floor", f"{ratio:.1f}x", "≤ 15x", ratio <= 15, key="floor_ratio")
    rates = {}
    for concurrency in (1, 8, 16, 32):
        calls = bench.n(max(600, concurrency * 100), concurrency * 4)
        before = cpu.snapshot(platform)
        rate = throughput(lambda n: api.execute(fid, n), concurrency, calls)
        spent = cpu.per_call_ms(before, cpu.snapshot(platform), calls)
        rates[concurrency] = rate
        bench.figures[f"throughput_c{concurrency}"] = rate
        bench.row(
            f"throughput at concurrency {concurrency} (all persisted)",
            f"{rate:.0f}/s",
            "≥ 600/s" if concurrency == 16 else "",
            rate >= 600 if concurrency == 16 else None,
            key="c16" if concurrency == 16 else "",
        )
        if concurrency == 16:
            cpu_row(bench, "sync_cpu_ms", spent)
    return rates[16]


def cpu_row(bench: Bench, key: str, spent: dict[str, float]) -> None:
    """CPU per call by process, and the rate two cores could give at that cost."""
    bench.figures[key] = spent
    ceiling = (os.cpu_count() or 1) * 1000 / max(sum(spent.values()), 1e-9)
    bench.row("  CPU per call, by process", cpu.describe(spent))
    bench.row("  the cores ÷ that CPU: the most this machine allows", f"{ceiling:.0f}/s")


def route_figures(bench: Bench, api: Api, fid: str) -> None:
    """A route call (`/fn/…`, SPEC §11) against POST /functions/{id}/execute of the same
    echo, in alternating batches so both see the same machine: the route's overhead."""
    source = (FIXTURES / "echo.ts").read_text()
    started = time.perf_counter()
    created = api.session.post(
        f"{api.base}/functions",
        json={
            "name": "bench-route",
            "language": "assemblyscript",
            "source": source,
            "route": "bench-echo",
            "public": True,
        },
        timeout=30,
    ).json()
    while api.session.get(f"{api.base}/functions/{created['id']}", timeout=30).json()[
        "status"
    ] not in ("READY", "FAILED"):
        if time.perf_counter() - started > 120:
            raise RuntimeError("the route's function did not build")
        time.sleep(0.01)

    def route() -> None:
        status, raw = api.call("POST", "/fn/bench-echo", {"n": 0})
        if status != 200:
            raise RuntimeError(f"route call failed: {status} {raw[:300]!r}")

    for _ in range(30):
        route()
    executes: list[float] = []
    routes: list[float] = []
    for _ in range(bench.n(10, 2)):
        executes += timed(lambda: api.execute(fid), bench.n(100, 10))
        routes += timed(route, bench.n(100, 10))
    execute_p50, route_p50 = summary(executes)["p50"], summary(routes)["p50"]
    over = route_p50 - execute_p50
    bench.figures["route_ms"] = {"route_p50": route_p50, "execute_p50": execute_p50}
    bench.row(
        "route call (/fn/…) p50 over execute p50 (alternating)",
        f"{over:+.2f} ms",
        f"≤ +0.3 ms ({route_p50:.2f} vs {execute_p50:.2f})",
        over <= 0.3,
        key="route",
    )


def async_figures(
    bench: Bench, api: Api, platform: LocalPlatform, fid: str, sync_rate: float, workers: int
):
    """Asynchronous invocations (SPEC §10) sent at concurrency 16: completed per second,
    from the first POST until the last of them is COMPLETED (invocation workers read
    the queue on a notification, not by polling it)."""
    total = bench.n(2000, 40)

    def invoke(n: int) -> None:
        status, raw = api.call("POST", f"/functions/{fid}/invocations", {"input": {"n": n}})
        if status != 202:
            raise RuntimeError(f"invocation refused: {status} {raw[:300]!r}")

    with psycopg.connect(platform.database_url, autocommit=True) as conn:
        since = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        # Only this run's rows (the function has tens of thousands from the synchronous
        # rows): a count over all of them, every poll, cost PostgreSQL more CPU than the
        # invocations did, and was counted as the platform's.
        count = (
            "SELECT count(*), extract(epoch FROM max(completed_at) - %s)::float8 FROM executions"
            " WHERE function_id = %s AND created_at >= %s AND trigger = 'async'"
            " AND status IN ('COMPLETED', 'FAILED')"
        )
        cpu_before = cpu.snapshot(platform)
        started = time.perf_counter()
        throughput(invoke, 16, total)
        deadline = started + 600
        while (finished := conn.execute(count, (since, fid, since)).fetchone())[0] < total:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"only {finished[0]} of {total} invocations completed")
            time.sleep(0.02)
        spent = cpu.per_call_ms(cpu_before, cpu.snapshot(platform), total)
        rate = total / finished[1]  # until the last completed, by the database's clock
    bench.figures["async_per_s"] = rate
    bench.row(
        f"async invocations completed per second ({workers} workers)",
        f"{rate:.0f}/s",
        f"≥ sync c16 ({sync_rate:.0f}/s)",
        rate >= sync_rate,
        key="async",
    )
    cpu_row(bench, "async_cpu_ms", spent)


def cold_figures(bench: Bench, api: Api) -> float:
    echo = (FIXTURES / "echo.wat").read_text()
    samples = []
    for i in range(bench.n(10, 2)):
        fid, _ = api.register(f"cold-{i}", "wat", echo.replace("1024", str(4096 + i * 8)))
        started = time.perf_counter()
        api.execute(fid)
        samples.append((time.perf_counter() - started) * 1000)
    cold = summary(samples)["p50"]
    bench.figures["cold_ms"] = cold
    bench.row(
        "first execution after READY (runner warmed before READY)",
        f"{cold:.1f} ms p50",
        "≤ 50 ms",
        cold <= 50,
    )
    return cold


def container_peer(bench: Bench, cold: float, image: str) -> None:
    """A fresh runner container per call: start, load the module, run, remove."""
    try:
        from runner.launchers.docker import docker_client

        client = docker_client()
        client.ping()
        client.images.get(image)
    except Exception as exc:
        bench.row(
            "container per execution (docker run of the runner image)",
            "skipped",
            f"no engine/image: {type(exc).__name__}",
        )
        return
    import wasmtime

    wasm = bytes(wasmtime.wat2wasm((FIXTURES / "echo.wat").read_text()))
    sha = hashlib.sha256(wasm).hexdigest()
    samples = []
    for _ in range(bench.n(3, 1)):
        directory = Path(tempfile.mkdtemp(prefix="nil-peer-"))
        os.chown(directory, 10001, 10001)
        started = time.perf_counter()
        container = client.containers.run(
            image,
            detach=True,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": "size=16m"},
            volumes={str(directory): {"bind": "/run/nil", "mode": "rw"}},
        )
        try:
            runner = Runner(f"unix:{directory / 'runner.sock'}", Connections())
            deadline = time.monotonic() + 60
            while not runner.healthy():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{image} did not answer the runner protocol")
                time.sleep(0.01)
            request = ExecuteRequest(sha, "{}", Limits(1000, 16, 10**9))
            runner.run(request, language="wat", load_module=lambda: wasm)
            runner.connections.close()
            samples.append((time.perf_counter() - started) * 1000)
        finally:
            container.remove(force=True)
            shutil.rmtree(directory, ignore_errors=True)
    peer = summary(samples)["p50"]
    bench.figures["container_per_call_ms"] = peer
    bench.row(
        "container per execution (docker run of the runner image)",
        f"{peer:.0f} ms p50",
        f"≥ 30x cold ({peer / cold:.0f}x)",
        peer / cold >= 30,
    )


def list_figures(bench: Bench, api: Api, url: str, fid: str) -> None:
    rows = bench.n(1_000_000, 20_000)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO executions (id, function_id, revision, status, input, output,"
            " duration_ms, fuel_used, started_at, completed_at, created_at)"
            " SELECT gen_random_uuid(), %s, 1, 'COMPLETED', '{}', '{}', 1.0, 1000,"
            " now() - make_interval(secs => g), now() - make_interval(secs => g),"
            " now() - make_interval(secs => g) FROM generate_series(1, %s) g",
            (fid, rows),
        )
        conn.execute("ANALYZE executions")
        total = conn.execute("SELECT count(*) FROM executions").fetchone()[0]
    path_first = f"/functions/{fid}/executions?limit=100"
    timed(lambda: api.call("GET", path_first), 5)
    first = summary(timed(lambda: api.call("GET", path_first), bench.n(50, 10)))
    page = json.loads(api.call("GET", path_first)[1])
    path_next = f"{path_first}&before={page[-1]['id']}"
    second = summary(timed(lambda: api.call("GET", path_next), bench.n(50, 10)))
    bench.figures["list_ms"] = {"first": first, "next": second, "rows": total}
    bench.row(
        f"GET /functions/{{id}}/executions, {total:,} rows",
        f"{first['p50']:.1f} ms p50",
        "≤ 20 ms",
        first["p50"] <= 20,
    )
    bench.row(
        "  next page (before=<id>)", f"{second['p50']:.1f} ms p50", "≤ 20 ms", second["p50"] <= 20
    )


def rss_figures(bench: Bench, platform: LocalPlatform) -> None:
    runner_rss = runner_rss_mb(platform)
    gateway = psutil.Process(platform.processes[0].proc.pid)
    workers = [
        p.memory_info().rss / 2**20
        for p in gateway.children()
        if "gunicorn" in " ".join(p.cmdline()) and "gateway" in " ".join(p.cmdline())
    ]
    bench.figures["runner_rss_mb"] = runner_rss
    bench.figures["gateway_worker_rss_mb"] = workers
    bench.row("idle runner RSS (after the run)", f"{max(runner_rss):.0f} MB")
    bench.row("gateway worker RSS", f"{max(workers):.0f} MB", "≤ 120 MB", max(workers) <= 120)


def main() -> None:
    parser = argparse.ArgumentParser(description="Nil's benchmark")
    parser.add_argument("--smoke", action="store_true", help="a few iterations of each")
    gateway = GatewaySettings.from_env()
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--runner-image", default="nil-runner:dev", help="for the container row")
    parser.add_argument("--workers", type=int, default=gateway.workers)
    parser.add_argument("--threads", type=int, default=gateway.threads)
    parser.add_argument("--invokers", type=int, default=2, help="invocation worker processes")
    args = parser.parse_args()
    bench = Bench(args.smoke)
    home = Path(tempfile.mkdtemp(prefix="nil-bench-"))
    url = start_embedded_postgres(home)
    migrate(url)
    platform = LocalPlatform(
        url,
        home,
        port=free_port(),
        builder_port=free_port(),
        consumer_port=free_port(),
        invoker_port=free_port(),
        runners=args.runners,
        invokers=args.invokers,
        output=io.StringIO(),
        extra_env={
            "NIL_LOG_LEVEL": "WARNING",
            "NIL_GATEWAY_WORKERS": str(args.workers),
            "NIL_GATEWAY_THREADS": str(args.threads),
        },
    )
    platform.start()
    try:
        platform.wait_ready(120)
        api = Api(f"http://127.0.0.1:{platform.port}")
        print(
            f"Nil bench ({'smoke' if args.smoke else 'full'}), {os.cpu_count()} cores, "
            f"{args.runners} runners, {args.workers}x{args.threads} gateway workers, "
            f"{args.invokers} invocation workers:",
            flush=True,
        )
        echo_id, _ = api.register(
            "bench-echo", "assemblyscript", (FIXTURES / "echo.ts").read_text()
        )
        with psycopg.connect(url) as conn:
            wasm = bytes(
                conn.execute(
                    "SELECT a.wasm FROM artifacts a JOIN revisions r"
                    " ON r.artifact_sha256 = a.sha256 WHERE r.function_id = %s",
                    (echo_id,),
                ).fetchone()[0]
            )
        waited = cpu.quiet(platform)
        bench.figures["quiet_s"] = waited
        bench.row("(waited for the platform to go idle: toolchain warm-up)", f"{waited:.0f} s")
        floor = in_process_floor(bench, wasm)
        runner_client_figures(bench, platform, wasm, floor)
        sync_rate = warm_figures(bench, api, platform, echo_id, floor)
        route_figures(bench, api, echo_id)
        async_figures(bench, api, platform, echo_id, sync_rate, args.invokers)
        cold = cold_figures(bench, api)
        container_peer(bench, cold, args.runner_image)
        compile_figures(bench, api)
        deploy_figures(bench, api)
        language_figures(bench, api)
        python_rows(bench, api, platform)
        list_figures(bench, api, url, echo_id)
        rss_figures(bench, platform)
    finally:
        platform.stop()
        stop_embedded_postgres(home)
        shutil.rmtree(home, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}{'-smoke' if args.smoke else ''}.json"
    out.write_text(
        json.dumps(
            {"smoke": args.smoke, "figures": bench.figures, "rows": bench.rows},
            indent=2,
            default=str,
        )
    )
    bench.issue_21_table()
    missed = [r for r in bench.rows if r[3] == "NOT MET"]
    print(f"\n{len(bench.rows)} figures, {len(missed)} targets not met; written to {out}")
    sys.exit(0)
