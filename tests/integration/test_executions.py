"""Executing functions through the gateway on real runner processes (SPEC §3, §5)."""

import json
import os
import signal
import threading
import time

import pytest

from common.runners import Runner, affinity_order
from consumer.sweeper import Sweeper
from tests.integration.helpers import function_body, source


@pytest.fixture
def ready(client, compile_all):
    """Create a function, compile it for real, return its id."""

    def make(language="wat", src=None, **extra):
        response = client.post(
            "/functions", json=function_body(language=language, src=src, **extra)
        )
        assert response.status_code == 201
        compile_all()
        fn = client.get(f"/functions/{response.json['id']}").json
        assert fn["status"] == "READY", fn["compileError"]
        return fn["id"]

    return make


def execute(client, fid, body=None):
    return client.post(f"/functions/{fid}/execute", json=body if body is not None else {})


def test_echo_returns_its_input_and_is_recorded(client, ready):
    fid = ready()
    response = execute(client, fid, {"input": {"hello": "world"}})
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["output"], body["errorMessage"]) == (
        "COMPLETED",
        {"hello": "world"},
        None,
    )
    assert body["durationMs"] > 0 and body["fuelUsed"] > 0
    assert body["startedAt"] <= body["completedAt"]
    assert client.get(f"/executions/{body['id']}").json == body


def test_add_returns_the_sum(client, ready):
    fid = ready("assemblyscript", source("add.ts"))
    body = execute(client, fid, {"input": {"a": 5, "b": 3}}).json
    assert (body["status"], body["output"]) == ("COMPLETED", {"sum": 8})


def test_a_throwing_function_is_200_failed_with_its_message(client, ready):
    fid = ready("assemblyscript", source("throw.ts"))
    response = execute(client, fid, {"input": {"quantity": -1}})
    assert response.status_code == 200
    assert response.json["status"] == "FAILED"
    assert "invalid order: quantity must be positive" in response.json["errorMessage"]
    assert response.json["output"] is None


def test_an_infinite_loop_fails_with_a_timeout_in_about_timeout_ms(client, ready):
    fid = ready("assemblyscript", source("loop.ts"), limits={"timeoutMs": 500, "fuel": 10**11})
    started = time.perf_counter()
    response = execute(client, fid)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200
    assert response.json["status"] == "FAILED"
    assert response.json["errorMessage"] == "function exceeded its time limit of 500 ms"
    assert 500 <= elapsed < 500 + 1000


def test_a_small_fuel_budget_is_enforced(client, ready):
    fid = ready("assemblyscript", source("loop.ts"), limits={"fuel": 10_000})
    body = execute(client, fid).json
    assert (body["status"], body["errorMessage"]) == (
        "FAILED",
        "function exhausted its fuel budget of 10000",
    )
    assert body["fuelUsed"] == 10_000


def test_missing_or_null_input_means_empty_object(client, ready):
    fid = ready()
    for body in (None, {"input": None}):
        response = client.post(
            f"/functions/{fid}/execute",
            data=json.dumps(body) if body else b"",
            content_type="application/json",
        )
        assert response.json["output"] == {} and response.json["input"] == {}


@pytest.mark.parametrize("value", [[1, 2], "text", 42])
def test_input_that_is_not_an_object_is_400(client, ready, value):
    fid = ready()
    response = execute(client, fid, {"input": value})
    assert response.status_code == 400
    assert response.json["message"] == "input must be a JSON object"


def test_executing_a_function_that_is_not_ready_is_400(client):
    fid = client.post("/functions", json=function_body()).json["id"]
    response = execute(client, fid)
    assert response.status_code == 400
    assert "PENDING" in response.json["message"]


def test_unknown_function_and_execution_are_404(client):
    missing = "00000000-0000-0000-0000-000000000001"
    assert execute(client, missing).status_code == 404
    assert client.get(f"/executions/{missing}").status_code == 404
    assert client.get(f"/functions/{missing}/executions").status_code == 404


def test_history_is_newest_first_and_paginates(client, ready):
    fid = ready()
    ids = [execute(client, fid, {"input": {"n": i}}).json["id"] for i in range(4)]
    history = client.get(f"/functions/{fid}/executions").json
    assert [e["id"] for e in history] == ids[::-1]
    assert set(history[0]) == {
        "id",
        "revision",
        "status",
        "startedAt",
        "completedAt",
        "durationMs",
        "trigger",
        "attempts",
        "deadLettered",
    }
    assert history[0]["revision"] == 1
    older = client.get(f"/functions/{fid}/executions?limit=2&before={ids[2]}").json
    assert [e["id"] for e in older] == [ids[1], ids[0]]


def test_deleting_a_function_deletes_its_executions(client, ready):
    fid = ready()
    eid = execute(client, fid).json["id"]
    assert client.delete(f"/functions/{fid}").status_code == 204
    assert client.get(f"/executions/{eid}").status_code == 404


def _runner_pid(address: str) -> int:
    health = Runner(address).health()
    assert health is not None
    return health.pid


def test_a_runner_killed_mid_execution_gives_503_and_the_pool_heals(client, ready, app, runner_dir):
    fid = ready("assemblyscript", source("loop.ts"), limits={"timeoutMs": 20_000, "fuel": 10**11})
    runners = app.extensions["nil"].runners
    target = affinity_order(fid, runners.addresses())[0]
    victim = _runner_pid(target)
    responses = []
    worker = threading.Thread(target=lambda: responses.append(execute(client, fid)))
    worker.start()
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    worker.join(timeout=10)
    response = responses[0]
    assert response.status_code == 503
    assert response.json["status"] == 503
    history = client.get(f"/functions/{fid}/executions").json
    assert history[0]["status"] == "FAILED"
    record = client.get(f"/executions/{history[0]['id']}").json
    assert record["errorMessage"].startswith("platform error: runner failed")
    killed_at = time.perf_counter()
    while not all(Runner(a).healthy() for a in runners.addresses()):
        assert time.perf_counter() - killed_at < 10, "the db did not heal"
        time.sleep(0.05)
    assert _runner_pid(target) != victim
    echo = ready()
    assert execute(client, echo, {"input": {"ok": 1}}).json["output"] == {"ok": 1}


def test_no_runner_within_the_wait_is_503_and_recorded(client, ready, db_url, tmp_path):
    from gateway import create_app

    fid = ready()
    empty = create_app({"database_url": db_url, "runner_dir": str(tmp_path), "runner_wait_ms": 200})
    try:
        response = empty.test_client().post(f"/functions/{fid}/execute", json={})
        assert response.status_code == 503
        assert response.json["message"] == "No runner became free in time; try again shortly."
        history = client.get(f"/functions/{fid}/executions").json
        assert history[0]["status"] == "FAILED"
    finally:
        empty.extensions["nil"].close()


def test_the_sweeper_fails_executions_left_running(client, ready, db):
    fid = ready()
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO executions (id, function_id, status, input, started_at)"
            " VALUES (gen_random_uuid(), %s, 'RUNNING', '{}', now() - interval '1 hour')",
            (fid,),
        )
    assert Sweeper(db, margin_ms=1000).sweep() == 1
    history = client.get(f"/functions/{fid}/executions").json
    assert history[0]["status"] == "FAILED"
