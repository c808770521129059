"""The runner process and its client, on real runner processes: one call at a time by
admission whoever sends it, health and metrics answered mid-call, a metrics listener that
runs nothing, sleeps cut at the deadline, a bounded wait when every runner is busy, and
SIGTERM draining a runner while its call finishes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import wasmtime

from common import unix_http
from common.contracts import ExecuteRequest, Limits
from common.errors import NoRunnerAvailable
from common.runners import Refusal, Runner, RunnerPool, affinity_order
from common.runners.discovery import StaticDiscovery
from common.runners.protocol import Kind, encode
from tests.runner import wat

LIMITS = Limits(timeout_ms=5000, memory_mb=16, fuel=10**9)


class Module:
    def __init__(self, text: str, language: str = "wat") -> None:
        self.wasm = bytes(wasmtime.wat2wasm(text))
        self.sha256 = hashlib.sha256(self.wasm).hexdigest()
        self.language = language

    def request(self, text: str = '{"n":1}', limits: Limits = LIMITS) -> ExecuteRequest:
        return ExecuteRequest(self.sha256, text, limits)


ECHO = Module(wat.ECHO)
SLEEP_1S = Module(wat.sleeper(1000), "c")
SLEEP_40S = Module(wat.sleeper(40_000), "c")


def run_on(runner: Runner, module: Module, limits: Limits = LIMITS, text: str = '{"n":1}'):
    return runner.execute(
        module.request(text, limits), language=module.language, load_module=lambda: module.wasm
    )


def run_in_pool(pool: RunnerPool, key: str, module: Module, limits: Limits = LIMITS):
    return pool.run(
        key,
        module.request(limits=limits),
        language=module.language,
        load_module=lambda: module.wasm,
    )


class Runners:
    """Runner processes (`python -m runner`) on unix sockets in a short directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="nil-rt-"))
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, count: int = 1) -> list[str]:
        started = []
        for _ in range(count):
            directory = self.root / f"r{len(self.procs)}"
            directory.mkdir()
            address = f"unix:{directory}/runner.sock"
            env = {
                **os.environ,
                "NIL_RUNNER_BIND": address,
                "NIL_RUNNER_ARTIFACT_DIR": str(self.root / "artifacts"),
                "NIL_LOG_LEVEL": "WARNING",
            }
            self.procs[address] = subprocess.Popen([sys.executable, "-m", "runner"], env=env)
            started.append(address)
        deadline = time.monotonic() + 30
        while not all(Runner(a).healthy() for a in started):
            assert time.monotonic() < deadline, "runners did not start"
            time.sleep(0.05)
        return started

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            proc.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def runners():
    started = Runners()
    yield started
    started.stop()


def busy_with(
    runner: Runner, module: Module, limits: Limits = LIMITS
) -> tuple[threading.Thread, list]:
    """Start a call in the background; return once the runner says it is busy."""
    results: list = []
    thread = threading.Thread(target=lambda: results.append(run_on(runner, module, limits)))
    thread.start()
    deadline = time.monotonic() + 10
    while not _busy(runner):
        assert time.monotonic() < deadline, "the call did not start"
        time.sleep(0.005)
    return thread, results


def _busy(runner: Runner) -> bool:
    health = runner.health()
    return health is not None and health.busy


def key_preferring(address: str, addresses: list[str]) -> str:
    return next(
        k for k in (f"fn-{i}" for i in range(1000)) if affinity_order(k, addresses)[0] == address
    )


def test_health_and_metrics_are_answered_mid_call(runners):
    [address] = runners.start(1)
    runner = Runner(address)
    thread, results = busy_with(runner, SLEEP_1S)
    started = time.perf_counter()
    health = runner.health()
    answered_ms = (time.perf_counter() - started) * 1000
    metrics_socket = f"unix:{Path(address[5:]).parent / 'metrics.sock'}"
    status, body = unix_http.request(metrics_socket, "GET", "/metrics")
    thread.join(timeout=10)
    assert (health.status, health.busy, health.upgrading) == ("UP", True, 0)
    assert answered_ms < 250, answered_ms
    assert status == 200 and "nil_runner_busy 1.0" in body.decode()
    assert results[0].outcome == "ok"
    assert runner.health().busy is False


def read_to_end(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_the_metrics_listener_runs_nothing(runners):
    [address] = runners.start(1)
    before = Runner(address).health().calls
    metrics_path = str(Path(address[5:]).parent / "metrics.sock")
    with socket.socket(socket.AF_UNIX) as sock:  # an execute frame, as a dispatcher sends it
        sock.connect(metrics_path)
        head, body = ECHO.request().frame()
        for part in encode(Kind.EXECUTE, head, body):
            sock.sendall(part)
        sock.shutdown(socket.SHUT_WR)
        answer = read_to_end(sock)  # the headers and the body may come in two pieces
    assert b'"status": 400' in answer and not answer.startswith(b"N1"), answer[:100]
    with socket.socket(socket.AF_UNIX) as sock:  # an HTTP POST, sent whole at once
        sock.connect(metrics_path)
        sock.sendall(b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        answer = read_to_end(sock)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 405 Method Not Allowed"), answer[:100]
    assert Runner(address).health().calls == before


def test_a_busy_runner_refuses_at_once_and_the_pool_takes_the_next(runners):
    first, second = runners.start(2)
    thread, _ = busy_with(Runner(first), SLEEP_1S)
    started = time.perf_counter()
    assert run_on(Runner(first), ECHO) is Refusal.BUSY
    refused_ms = (time.perf_counter() - started) * 1000
    pool = RunnerPool(StaticDiscovery((first, second)), wait_seconds=5)
    try:
        reply = run_in_pool(pool, key_preferring(first, [first, second]), ECHO)
    finally:
        pool.close()
    thread.join(timeout=10)
    assert refused_ms < 100, refused_ms
    assert reply.outcome == "ok"
    assert Runner(second).health().calls >= 1


def test_two_dispatchers_never_overlap_on_a_runner(runners):
    """Two pools (as two gateway processes or replicas would hold) send concurrently for
    the same function: each runner runs one call at a time, the loser goes elsewhere."""
    addresses = runners.start(2)
    short = Module(wat.sleeper(30), "c")
    pools = [RunnerPool(StaticDiscovery(tuple(addresses)), wait_seconds=10) for _ in range(2)]
    before = {a: Runner(a).health().calls for a in addresses}
    outcomes: list[str] = []

    def dispatch(pool: RunnerPool) -> None:
        for _ in range(10):
            outcomes.append(run_in_pool(pool, "one-function", short).outcome)

    threads = [threading.Thread(target=dispatch, args=(p,)) for p in pools for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for pool in pools:
        pool.close()
    healths = {a: Runner(a).health() for a in addresses}
    ran = {a: healths[a].calls - before[a] for a in addresses}
    print(f"calls per runner {ran}; max concurrent {[h.max_concurrent for h in healths.values()]}")
    assert outcomes == ["ok"] * 60
    assert [h.max_concurrent for h in healths.values()] == [1, 1]
    assert all(n > 0 for n in ran.values())  # the preferred runner's losers went on
    assert sum(ran.values()) >= 60


def test_every_runner_busy_is_a_bounded_wait_then_no_runner(runners):
    addresses = runners.start(2)
    busy = [busy_with(Runner(a), SLEEP_1S) for a in addresses]
    pool = RunnerPool(StaticDiscovery(tuple(addresses)), wait_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(NoRunnerAvailable) as raised:
        run_in_pool(pool, "f", ECHO)
    waited = time.perf_counter() - started
    for thread, _ in busy:
        thread.join(timeout=10)
    pool.close()
    assert 0.3 <= waited < 1.0, waited
    assert raised.value.retry_after == 1


def test_a_short_function_waits_the_whole_wait_not_just_its_timeout(runners):
    """A call waits for a runner up to the pool's whole wait, however short its own
    timeout: a 300 ms function behind a 2.5 s call runs once the runner frees up."""
    [address] = runners.start(1)
    pool = RunnerPool(StaticDiscovery((address,)), wait_seconds=6)
    long_sleep = Module(wat.sleeper(2500), "c")
    run_on(Runner(address), long_sleep)  # compiled and cached first
    busy = threading.Thread(target=lambda: run_on(Runner(address), long_sleep))
    busy.start()
    while not _busy(Runner(address)):
        time.sleep(0.002)
    quick = Limits(timeout_ms=300, memory_mb=16, fuel=10**9)
    started = time.perf_counter()
    reply = run_in_pool(pool, "f", ECHO, quick)
    waited = time.perf_counter() - started
    busy.join(timeout=10)
    pool.close()
    assert reply.outcome == "ok"
    assert waited > 1.0, waited  # it waited well past its own timeout for the runner


def test_a_waiting_call_is_woken_when_a_call_of_its_process_ends(runners):
    [address] = runners.start(1)
    pool = RunnerPool(StaticDiscovery((address,)), wait_seconds=5)
    short = Module(wat.sleeper(300), "c")
    run_in_pool(pool, "f", short)  # cached, so the next call takes ~300 ms
    first = threading.Thread(target=lambda: run_in_pool(pool, "f", short))
    first.start()
    while not _busy(Runner(address)):
        time.sleep(0.002)
    started = time.perf_counter()
    reply = run_in_pool(pool, "f", ECHO)
    waited = time.perf_counter() - started
    first.join(timeout=10)
    pool.close()
    assert reply.outcome == "ok"
    assert waited < 0.6, waited


def test_a_sleep_in_a_host_call_ends_at_the_deadline_and_the_runner_serves_on(runners):
    [address] = runners.start(1)
    runner = Runner(address)
    run_on(runner, SLEEP_40S, Limits(1000, 16, 10**9))  # compiled and cached first
    started = time.perf_counter()
    reply = run_on(runner, SLEEP_40S, Limits(1000, 16, 10**9))
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert (reply.outcome, reply.error) == (
        "timeout",
        "function exceeded its time limit of 1000 ms",
    )
    assert 1000 <= elapsed_ms <= 1250, elapsed_ms
    started = time.perf_counter()
    assert run_on(runner, ECHO).outcome == "ok"
    assert (time.perf_counter() - started) * 1000 < 250


def test_sigterm_finishes_the_call_in_flight_and_sends_new_calls_elsewhere(runners):
    first, second = runners.start(2)
    keeper = runners.procs[first]
    runner = Runner(first)
    assert run_on(runner, ECHO).outcome == "ok"  # a pooled connection to the first runner
    thread, results = busy_with(runner, SLEEP_1S)
    keeper.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while (health := runner.health()) is not None and health.status != "DRAINING":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert run_on(runner, ECHO) in (Refusal.DRAINING, Refusal.UNREACHABLE)
    pool = RunnerPool(StaticDiscovery((first, second)), wait_seconds=5)
    try:
        for _ in range(5):
            assert run_in_pool(pool, key_preferring(first, [first, second]), ECHO).outcome == "ok"
    finally:
        pool.close()
    thread.join(timeout=10)
    assert results[0].outcome == "ok"  # the call in flight completed
    assert keeper.wait(timeout=10) == 0
    assert not Path(first[5:]).exists()


GEVENT_DISPATCH = """
from gevent import monkey

monkey.patch_all()

import hashlib, json, sys, time

import gevent
import wasmtime

from common.contracts import ExecuteRequest, Limits
from common.runners import RunnerPool
from common.runners.discovery import StaticDiscovery
from tests.runner import wat

wasm = bytes(wasmtime.wat2wasm(wat.sleeper(20)))
request = ExecuteRequest(hashlib.sha256(wasm).hexdigest(), "{}", Limits(5000, 16, 10**9))
pool = RunnerPool(StaticDiscovery(tuple(sys.argv[1:])), wait_seconds=10)
ticks, outcomes = [], []


def tick():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.005)


def dispatch():
    for _ in range(5):
        reply = pool.run("f", request, language="c", load_module=lambda: wasm)
        outcomes.append(reply.outcome.value)


ticker = gevent.spawn(tick)
started = time.monotonic()
gevent.joinall([gevent.spawn(dispatch) for _ in range(8)], raise_error=True)
elapsed = time.monotonic() - started
ticker.kill()
pool.close()
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
gaps.sort()
print(json.dumps({"outcomes": outcomes, "elapsed": elapsed, "median_gap": gaps[len(gaps) // 2]}))
"""


def test_the_client_dispatches_under_gevent_without_blocking_the_hub(runners):
    """The gateway may run gevent workers: with sockets and locks monkey-patched, eight
    greenlets share two runners (busy → next, waiting) and the hub is never blocked."""
    pytest.importorskip("gevent", reason="gevent is the gateway's worker class dependency")
    addresses = runners.start(2)
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_DISPATCH, *addresses],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["outcomes"] == ["ok"] * 40
    # the ticker kept its 5 ms beat while greenlets waited on runners: nothing blocked the
    # hub (a blocking call would stall it for a whole 20 ms call at a time)
    assert result["median_gap"] < 0.015, result
    assert [Runner(a).health().max_concurrent for a in addresses] == [1, 1]


def test_a_sigterm_while_the_runner_starts_is_a_clean_exit(tmp_path):
    """The runner catches SIGTERM from its first line (as PID 1 it would drop one that
    came before its handler, and live until a kill): stopped while it still imports,
    before it has bound its socket, it exits with 0 at once."""
    sock = tmp_path / "runner.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner"], env={**os.environ, "NIL_RUNNER_BIND": f"unix:{sock}"}
    )
    try:
        deadline = time.monotonic() + 10
        while not _catches(proc.pid, signal.SIGTERM):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.002)
        assert not sock.exists()  # still starting: the keeper has not bound yet
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def _catches(pid: int, signum: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    [caught] = [line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")]
    return bool(int(caught, 16) >> (signum - 1) & 1)


def test_a_local_runner_whose_supervisor_is_killed_drains_and_exits(tmp_path):
    """A local runner lives in a session of its own, so a supervisor killed with SIGKILL
    (it could not stop its runners) would leave it serving no one: its keeper sees its
    parent gone and drains, its worker with it."""
    import psutil

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from runner.launchers import ProcessLauncher\n"
        "handle = ProcessLauncher().launch('orphan', Path(sys.argv[1]))\n"
        "print(handle.proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    supervisor = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    keeper = worker = None
    try:
        keeper = psutil.Process(int(supervisor.stdout.readline()))
        runner = Runner(f"unix:{tmp_path / 'runner.sock'}")
        deadline = time.monotonic() + 30
        while not runner.healthy():
            assert time.monotonic() < deadline and keeper.is_running()
            time.sleep(0.05)
        worker = psutil.Process(runner.health().pid)
        supervisor.kill()
        supervisor.wait()
        _, alive = psutil.wait_procs([keeper, worker], timeout=15)
        assert not alive, alive
    finally:
        for process in (keeper, worker):
            if process is not None and process.is_running():
                process.kill()
        supervisor.kill()
        supervisor.wait()
        supervisor.stdout.close()


def test_a_worker_whose_keeper_is_killed_drains_and_exits(tmp_path):
    """A keeper killed outright (SIGKILL, the OOM killer) cannot stop its worker, which
    would live on orphaned, its supervisor having started another runner at the address:
    the worker finds its heartbeat pipe broken within a second and exits."""
    import psutil

    sock = tmp_path / "runner.sock"
    keeper = subprocess.Popen(
        [sys.executable, "-m", "runner"], env={**os.environ, "NIL_RUNNER_BIND": f"unix:{sock}"}
    )
    worker = None
    try:
        runner = Runner(f"unix:{sock}")
        deadline = time.monotonic() + 30
        while not runner.healthy():
            assert time.monotonic() < deadline and keeper.poll() is None
            time.sleep(0.05)
        worker = psutil.Process(runner.health().pid)
        keeper.kill()
        keeper.wait()
        _, alive = psutil.wait_procs([worker], timeout=10)
        assert not alive, alive
    finally:
        if worker is not None and worker.is_running():
            worker.kill()
        keeper.kill()
        keeper.wait()
