"""Breaking things on purpose, with real processes: killed builders and consumers,
a restarted database, and a result delivered a thousand times."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from common.contracts import CompilationResult
from common.queue import CompilationQueues
from db import migrate
from tests.e2e.conftest import free_port
from tests.integration.helpers import function_body, queue_messages, source
from tools.platform import LocalPlatform, start_embedded_postgres, stop_embedded_postgres

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def status_of(db, fid: str) -> str:
    with db.connection() as conn:
        return conn.execute("SELECT status FROM function_heads WHERE id = %s", (fid,)).fetchone()[0]


def spawn(module: str, db_url: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        start_new_session=True,
        env={**os.environ, "DATABASE_URL": db_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_a_builder_killed_mid_compile_leaves_the_job_to_a_successor(client, db, db_url, consumer):
    env = {"NIL_BUILDER_VISIBILITY_SECONDS": "3", "NIL_BUILDER_PORT": str(free_port())}
    first = spawn("builder", db_url, **env)
    try:
        wait_for(
            lambda: (
                requests.get(f"http://127.0.0.1:{env['NIL_BUILDER_PORT']}/health", timeout=1).ok
                if _port_open(env)
                else False
            ),
            30,
            "the first builder",
        )
        fid = client.post(
            "/functions", json=function_body(language="assemblyscript", src=source("add.ts"))
        ).json["id"]
        wait_for(lambda: status_of(db, fid) == "COMPILING", 30, "the compile to start")
        kill_group(first)  # the builder and its compiler, mid-compile
    finally:
        if first.poll() is None:
            kill_group(first)
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_results") == []  # nothing was published
    env["NIL_BUILDER_PORT"] = str(free_port())
    second = spawn("builder", db_url, **env)
    try:

        def applied() -> bool:
            consumer.run(wait=False)
            return status_of(db, fid) in ("READY", "FAILED")

        wait_for(applied, 60, "the successor to compile the returned job")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    fn = client.get(f"/functions/{fid}").json
    assert (fn["status"], fn["revision"]) == ("READY", 1)
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_jobs") == []
        assert queue_messages(conn, "compilation_results") == []


def _port_open(env) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", int(env["NIL_BUILDER_PORT"]))) == 0


def test_a_result_applied_but_not_deleted_is_applied_again_idempotently(
    client, builder, consumer, db
):
    fid = client.post("/functions", json=function_body()).json["id"]
    builder.run(wait=False)
    queues = CompilationQueues(db)
    [delivery] = queues.read_results(vt=1, qty=1, poll_seconds=0)
    from db import revisions as repo

    with db.connection() as conn:  # the consumer updated, then died before the delete
        repo.apply_result(conn, CompilationResult.from_json(delivery.payload))
    first = client.get(f"/functions/{fid}").json
    time.sleep(1.1)  # the visibility timeout runs out; the message is back
    assert consumer.run(wait=False) == 1
    again = client.get(f"/functions/{fid}").json
    assert {**again, "updatedAt": None} == {**first, "updatedAt": None}
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_results") == []


def test_a_consumer_killed_mid_stream_loses_nothing(client, builder, db, db_url, consumer):
    fids = [
        client.post(
            "/functions",
            json=function_body(name=f"f{i}", src=source("echo.wat").replace("1024", str(1024 + i))),
        ).json["id"]
        for i in range(30)
    ]
    builder.run(wait=False)
    proc = spawn(
        "consumer",
        db_url,
        NIL_CONSUMER_PORT=str(free_port()),
        NIL_CONSUMER_VISIBILITY_SECONDS="2",
    )
    wait_for(
        lambda: sum(status_of(db, f) == "READY" for f in fids) >= 3,
        30,
        "the consumer to start applying",
    )
    kill_group(proc)
    time.sleep(2.1)  # what the killed consumer had read becomes visible again
    consumer.run(wait=False)
    assert [status_of(db, f) for f in fids] == ["READY"] * 30
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_results") == []


def test_the_same_result_delivered_a_thousand_times_equals_one_delivery(
    client, builder, consumer, db
):
    fid = client.post("/functions", json=function_body()).json["id"]
    builder.run(wait=False)
    with db.connection() as conn:
        [payload] = queue_messages(conn, "compilation_results")
    consumer.run(wait=False)
    once = client.get(f"/functions/{fid}").json
    result = CompilationResult.from_json(payload)
    queues = CompilationQueues(db)
    for _ in range(1000):
        queues.publish_result(result)
    consumer.batch_size = 100
    assert consumer.run(wait=False) == 1000
    after = client.get(f"/functions/{fid}").json
    assert {**after, "updatedAt": None} == {**once, "updatedAt": None}
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_results") == []


# ------------------------------------------------------------------ database restart


@pytest.fixture(scope="module")
def own_platform(tmp_path_factory):
    """A whole platform on a PostgreSQL server of its own, so restarting that server or
    killing the platform's processes disturbs nothing else; shared by the tests below,
    each of which leaves it serving again."""
    home = tmp_path_factory.mktemp("own")
    (home / "pg").mkdir()
    url = start_embedded_postgres(home / "pg")
    migrate(url)
    platform = LocalPlatform.on_free_ports(url, home / "home", output=io.StringIO())
    platform.start()
    try:
        platform.wait_ready(90)
        base = f"http://127.0.0.1:{platform.port}"
        fid = requests.post(f"{base}/functions", json=function_body(), timeout=10).json()["id"]
        wait_for(
            lambda: requests.get(f"{base}/functions/{fid}", timeout=5).json()["status"] == "READY",
            60,
            "compilation",
        )
        yield {"pgdata": home / "pg" / "pgdata", "url": url, "platform": platform, "fid": fid}
    finally:
        platform.stop()
        stop_embedded_postgres(home / "pg")


def _executes(base: str, fid: str) -> bool:
    try:
        answer = requests.post(f"{base}/functions/{fid}/execute", json={"input": {}}, timeout=30)
    except requests.RequestException:
        return False
    return answer.status_code == 200


def restart_postgres(pgdata: Path, url: str, down_seconds: float) -> None:
    from embedded_postgres._commands import pg_ctl

    socket_dir = conninfo_to_dict(url)["host"]
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user="embedded_postgres", timeout=30)
    time.sleep(down_seconds)
    pg_ctl(
        ["-w", "-o", f"-h '' -k {socket_dir}", "-l", str(pgdata / "log"), "start"],
        pgdata=pgdata,
        user="embedded_postgres",
        timeout=30,
    )


def test_a_database_restart_during_executions_loses_nothing(own_platform):
    pgdata, url, fid = own_platform["pgdata"], own_platform["url"], own_platform["fid"]
    base = f"http://127.0.0.1:{own_platform['platform'].port}"
    answers: list[tuple[int, dict]] = []
    stop = threading.Event()

    def stream() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                r = session.post(
                    f"{base}/functions/{fid}/execute",
                    json={"input": {"n": len(answers)}},
                    timeout=30,
                )
            except requests.RequestException:
                continue
            answers.append((r.status_code, r.json()))

    thread = threading.Thread(target=stream)
    thread.start()
    time.sleep(1.0)
    restart_postgres(pgdata, url, down_seconds=7.0)  # longer than the pool timeout
    time.sleep(2.0)
    stop.set()
    thread.join(timeout=60)
    # No restart of the platform: it recovers by itself, once the pool's reconnect
    # backoff (which grew while the database was down) lets it try again.
    wait_for(lambda: _executes(base, fid), 20, "recovery")
    statuses = {status for status, _ in answers}
    assert statuses <= {200, 503}, statuses  # never a 500
    assert 503 in statuses and 200 in statuses
    for status, body in answers:
        assert set(body) >= ({"id", "status"} if status == 200 else {"status", "message"})
        assert "Traceback" not in str(body)
    with psycopg.connect(url) as conn:
        stored = dict(conn.execute("SELECT id::text, status::text FROM executions").fetchall())
    for status, body in answers:
        if status == 200:
            assert stored[body["id"]] == body["status"] == "COMPLETED"
    print(
        f"{len(answers)} requests: {sum(s == 200 for s, _ in answers)} x 200, "
        f"{sum(s == 503 for s, _ in answers)} x 503 during the outage"
    )


def test_a_killed_runner_supervisor_is_started_again_and_executions_resume(own_platform):
    """The gateway master keeps its runner supervisor: killed, its runners drain and
    exit (orphaned), and a new one brings runners back at the same addresses without a
    restart of the gateway — the orphans, exiting after the new runners bound their
    paths, must not remove the new runners' socket files."""
    platform, fid = own_platform["platform"], own_platform["fid"]
    base = f"http://127.0.0.1:{platform.port}"
    master = next(m for m in platform.processes if m.name == "gateway").proc.pid

    def supervisors() -> list[int]:
        found = []
        for child in psutil.Process(master).children():
            with contextlib.suppress(psutil.Error):  # gone, or a zombie not yet reaped
                if "runner.supervisor" in child.cmdline():
                    found.append(child.pid)
        return found

    (killed,) = supervisors()
    orphans = [child.pid for child in psutil.Process(killed).children()]  # runners' keepers
    assert orphans and _executes(base, fid)
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: supervisors() not in ([], [killed]), 10, "a new supervisor")
    wait_for(lambda: not any(map(psutil.pid_exists, orphans)), 15, "the orphaned runners' exit")
    started = time.monotonic()
    wait_for(lambda: _executes(base, fid), 30, "executions on the new supervisor's runners")
    print(f"executions resumed {time.monotonic() - started:.1f} s after the old runners left")
    status = requests.get(f"{base}/ready", timeout=5).json()["components"]["runners"]
    assert status["size"] == status["healthy"] == platform.runners, status


def test_nothing_stays_running_after_a_runner_is_killed(client, compile_all, app, db):
    from common.runners import Runner, affinity_order

    fid = client.post(
        "/functions",
        json=function_body(
            language="assemblyscript",
            src=source("loop.ts"),
            limits={"timeoutMs": 20_000, "fuel": 10**11},
        ),
    ).json["id"]
    compile_all()
    target = affinity_order(fid, app.extensions["nil"].runners.addresses())[0]
    victim = Runner(target).health().pid
    responses = []
    thread = threading.Thread(
        target=lambda: responses.append(client.post(f"/functions/{fid}/execute", json={}))
    )
    thread.start()
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=10)
    assert responses[0].status_code == 503
    with db.connection() as conn:
        running = conn.execute("SELECT count(*) FROM executions WHERE status = 'RUNNING'")
        assert running.fetchone()[0] == 0
    assert uuid.UUID(fid)


def test_an_invoker_killed_mid_execution_leaves_it_to_a_successor_once(
    client, compile_all, db, db_url, runner_dir
):
    """SIGKILL an invocation worker while it runs an execution: once the attempt's lease
    (timeout + margin) ends, another worker claims it as attempt 2; it ends exactly once."""
    from tests.integration.helpers import archived_messages

    fid = client.post(
        "/functions",
        json=function_body(
            language="assemblyscript",
            src=source("loop.ts"),
            limits={"timeoutMs": 1500, "fuel": 10**11},
            retry={"maxAttempts": 2, "backoffMs": 0},
        ),
    ).json["id"]
    compile_all()
    env = {"NIL_RUNNER_DIR": str(runner_dir), "NIL_INVOKER_VISIBILITY_MARGIN_SECONDS": "0.5"}
    first = spawn("invoker", db_url, NIL_INVOKER_PORT=str(free_port()), **env)
    try:
        eid = client.post(f"/functions/{fid}/invocations", json={}).json["id"]

        def row():
            with db.connection() as conn:
                return conn.execute(
                    "SELECT status, attempts, dead_lettered, error_message FROM executions"
                    " WHERE id = %s",
                    (eid,),
                ).fetchone()

        wait_for(lambda: row()[:2] == ("RUNNING", 1), 30, "the first attempt to start")
        time.sleep(0.3)
        kill_group(first)
    finally:
        if first.poll() is None:
            kill_group(first)
    second = spawn("invoker", db_url, NIL_INVOKER_PORT=str(free_port()), **env)
    try:
        wait_for(lambda: row()[0] == "FAILED", 30, "the successor to finish it")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    # attempt 1 was lost with its worker; attempt 2 (the last) timed out (or, with the
    # machine loaded, found the runner still busy with attempt 1's call): a dead letter
    final = row()
    assert final[:3] == ("FAILED", 2, True), final
    assert final[3] == "function exceeded its time limit of 1500 ms" or final[3].startswith(
        "platform error"
    ), final
    with db.connection() as conn:
        assert queue_messages(conn, "executions") == []
        assert [m["executionId"] for m in archived_messages(conn, "executions")] == [eid]
