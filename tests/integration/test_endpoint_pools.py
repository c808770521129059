"""The static and kubernetes (DNS) db backends against real runners on loopback TCP,
as a gateway in Kubernetes reaches runner pods behind a headless Service."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from common.runners import Runner
from gateway import create_app
from tests.e2e.conftest import free_port
from tests.integration.helpers import function_body, source


@pytest.fixture(scope="module")
def tcp_runners():
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "runner"],
            env={**os.environ, "NIL_RUNNER_BIND": f"127.0.0.1:{port}"},
        )
        for port in ports
    ]
    deadline = time.monotonic() + 30
    for port in ports:
        while True:
            try:
                if Runner(f"127.0.0.1:{port}").healthy():
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "runners did not start"
            time.sleep(0.1)
    yield ports
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def modules_held(port: int) -> int:
    return Runner(f"127.0.0.1:{port}").health().modules


@pytest.mark.parametrize("backend", ["static", "kubernetes"])
def test_executions_reach_tcp_runners_with_affinity(backend, db_url, tcp_runners, compile_all, db):
    config = {
        "database_url": db_url,
        "pool_backend": backend,
        "runner_endpoints": tuple(f"127.0.0.1:{p}" for p in tcp_runners),
        "runner_service": f"localhost:{tcp_runners[0]}",
    }
    if backend == "kubernetes":  # one name → one address here; a Service has many
        config["runner_endpoints"] = ()
    app = create_app(config)
    client = app.test_client()
    try:
        before = [modules_held(p) for p in tcp_runners]
        fid = client.post(
            "/functions",
            json=function_body(src=source("echo.wat").replace("1024", str(2000 + len(backend)))),
        ).json["id"]
        compile_all()
        for i in range(5):
            body = client.post(f"/functions/{fid}/execute", json={"input": {"i": i}}).json
            assert (body["status"], body["output"]) == ("COMPLETED", {"i": i})
        after = [modules_held(p) for p in tcp_runners]
        # The function's module went to exactly one runner, every time.
        assert sum(a - b for a, b in zip(after, before, strict=True)) == 1
        assert client.get("/ready").json["components"]["runners"]["status"] == "UP"
    finally:
        app.extensions["nil"].close()
