"""Gateway probes under load (issue 24): liveness is answered by the connection reader
even while every app thread runs a long call; readiness is the database's, not the
runners'."""

from __future__ import annotations

import io
import threading
import time

import requests

from tests.conftest import temporary_database
from tests.e2e.conftest import Api
from tests.integration.helpers import function_body, source
from tools.platform import LocalPlatform


def test_liveness_is_answered_while_every_app_thread_runs_a_call(pg_url, template_url, tmp_path):
    log = io.StringIO()
    with temporary_database(pg_url, "nil_probes") as url:
        platform = LocalPlatform.on_free_ports(
            url,
            tmp_path / "home",
            runners=1,
            output=log,
            # one gunicorn process with one app thread: a single call occupies it
            extra_env={
                "NIL_RUNNERS_MAX": "1",
                "NIL_GATEWAY_WORKERS": "1",
                "NIL_GATEWAY_THREADS": "1",
            },
        )
        platform.start()
        try:
            platform.wait_ready(timeout=90)
            base = f"http://127.0.0.1:{platform.port}"
            api = Api(base)
            body = function_body(
                "spin", src=source("hostile/infinite_loop.wat"), limits={"timeoutMs": 4000}
            )
            created = api.post("/functions", json=body)
            assert created.status_code == 201, created.text
            fid = created.json()["id"]
            api.wait_for_status(fid, {"READY"})

            outcome: dict = {}

            def long_call() -> None:
                outcome["response"] = requests.post(
                    f"{base}/functions/{fid}/execute", json={"input": {}}, timeout=30
                )

            caller = threading.Thread(target=long_call)
            caller.start()
            time.sleep(0.5)  # the call holds the only app thread now
            started = time.monotonic()
            health = requests.get(f"{base}/health", timeout=10)
            health_seconds = time.monotonic() - started
            still_running = caller.is_alive()
            started = time.monotonic()
            ready = requests.get(f"{base}/ready", timeout=30)  # the app's: waits for the thread
            ready_seconds = time.monotonic() - started
            caller.join(timeout=30)

            assert health.status_code == 200 and health.json() == {"status": "UP"}
            assert len(health.headers["X-Request-Id"]) == 32
            assert still_running, "the long call ended before the liveness probe was answered"
            assert health_seconds < 1.0, health_seconds
            assert ready_seconds > health_seconds  # it queued behind the call
            assert ready.status_code == 200
            assert outcome["response"].status_code == 200
            assert outcome["response"].json()["status"] == "FAILED"  # its timeout
        finally:
            platform.stop()
