"""POST /functions → compile → READY → execute, over HTTP against real processes."""

import json
import os
import signal
import threading
import time

import pytest

from tests.integration.helpers import source


def register(api, name, language, src, **extra):
    response = api.post(
        "/functions", json={"name": name, "language": language, "source": src, **extra}
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(response.json()["id"])
    return response.json()["id"]


def ready_function(api, name, language="assemblyscript", src=None, **extra):
    fid = register(api, name, language, src or source(f"{name}.ts"), **extra)
    fn = api.wait_for_status(fid, {"READY", "FAILED"})
    assert fn["status"] == "READY", fn["compileError"]
    return fid


def execute(api, fid, body):
    return api.post(f"/functions/{fid}/execute", json=body)


def test_echo_reaches_ready_and_returns_its_input(api):
    fid = ready_function(api, "echo")
    response = execute(api, fid, {"input": {"message": "hi", "n": [1, 2]}})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["output"]) == ("COMPLETED", {"message": "hi", "n": [1, 2]})


def test_add_with_json_as_returns_the_sum(api):
    fid = ready_function(api, "add")
    assert execute(api, fid, {"input": {"a": 5, "b": 3}}).json()["output"] == {"sum": 8}


def test_wat_echo(api):
    fid = ready_function(api, "echo-wat", "wat", source("echo.wat"))
    assert execute(api, fid, {"input": {"w": 1}}).json()["output"] == {"w": 1}


def test_invalid_syntax_fails_with_the_line(api):
    fid = register(api, "broken", "assemblyscript", source("syntax_error.ts"))
    fn = api.wait_for_status(fid, {"READY", "FAILED"})
    assert fn["status"] == "FAILED"
    assert "function.ts(3," in fn["compileError"]


def test_put_new_source_recompiles_at_revision_2(api):
    fid = ready_function(api, "echo")
    updated = api.put(
        f"/functions/{fid}",
        json={"name": "add", "language": "assemblyscript", "source": source("add.ts")},
    )
    assert updated.status_code == 200
    assert (updated.json()["status"], updated.json()["revision"]) == ("PENDING", 2)
    fn = api.wait_for_status(fid, {"READY", "FAILED"})
    assert (fn["status"], fn["revision"]) == ("READY", 2)
    assert execute(api, fid, {"input": {"a": 1, "b": 2}}).json()["output"] == {"sum": 3}


def test_delete_returns_204_and_the_function_is_gone(api):
    fid = ready_function(api, "echo")
    response = api.delete(f"/functions/{fid}")
    assert (response.status_code, response.content) == (204, b"")
    assert api.get(f"/functions/{fid}").status_code == 404


def test_a_throw_is_200_failed_with_the_message(api):
    fid = ready_function(api, "throw")
    response = execute(api, fid, {"input": {"quantity": 0}})
    assert response.status_code == 200
    assert response.json()["status"] == "FAILED"
    assert "invalid order: quantity must be positive" in response.json()["errorMessage"]


def test_an_infinite_loop_is_200_failed_in_about_timeout_ms(api):
    fid = ready_function(api, "loop", limits={"timeoutMs": 1000, "fuel": 10**11})
    started = time.perf_counter()
    response = execute(api, fid, {})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json()["errorMessage"] == "function exceeded its time limit of 1000 ms"
    assert 1.0 <= elapsed < 2.0


def test_history_is_newest_first(api):
    fid = ready_function(api, "echo")
    ids = [execute(api, fid, {"input": {"i": i}}).json()["id"] for i in range(3)]
    assert [e["id"] for e in api.get(f"/functions/{fid}/executions").json()] == ids[::-1]


@pytest.mark.parametrize(
    "method, path, kwargs, status",
    [
        (
            "post",
            "/functions",
            {"data": "{oops", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        ("post", "/functions", {"json": {"name": "x", "language": "cobol", "source": "s"}}, 415),
        ("get", "/functions/not-a-uuid", {}, 400),
        ("get", "/no/such/route", {}, 404),
        ("delete", "/functions", {}, 405),
        (
            "post",
            "/functions",
            {"data": b"x" * (7 * 1024 * 1024), "headers": {"Content-Type": "application/json"}},
            413,
        ),
    ],
)
def test_error_statuses_are_json(api, method, path, kwargs, status):
    response = getattr(api, method)(path, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["message"] and body["error"]


def test_input_that_is_not_an_object_is_400(api):
    fid = ready_function(api, "echo")
    for value in ([1], "s", 3):
        assert execute(api, fid, {"input": value}).status_code == 400


def test_sigkill_of_a_runner_mid_execution_is_503_and_the_pool_heals(api, platform):
    fid = ready_function(api, "loop", limits={"timeoutMs": 20_000, "fuel": 10**11})
    state_file = platform.home / "runners" / "supervisor.json"
    masters = [r["pid"] for r in json.loads(state_file.read_text())["runners"]]
    responses = []
    thread = threading.Thread(target=lambda: responses.append(execute(api, fid, {})))
    thread.start()
    time.sleep(0.5)
    import psutil

    busy = [
        c for m in masters for c in psutil.Process(m).children() if c.cpu_percent(interval=0.1) > 20
    ]
    assert len(busy) == 1
    os.kill(busy[0].pid, signal.SIGKILL)
    thread.join(timeout=10)
    assert responses[0].status_code == 503
    assert responses[0].json()["status"] == 503
    history = api.get(f"/functions/{fid}/executions").json()
    assert history[0]["status"] == "FAILED"
    echo = ready_function(api, "echo")
    deadline = time.monotonic() + 10
    while api.get("/ready").json()["components"]["runners"].get("healthy") != 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert execute(api, echo, {"input": {"x": 1}}).json()["output"] == {"x": 1}
