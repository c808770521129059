"""First boot (issue 24): every service started on an empty database, before the
migrations, waits for the schema with backoff instead of crash-looping, and the platform
comes up, and serves a first function, once the migrations run."""

from __future__ import annotations

import io
import time

import requests

from db import migrate
from tests.conftest import temporary_database
from tests.e2e.conftest import Api
from tests.integration.helpers import function_body
from tools.platform import LocalPlatform


def test_services_started_before_the_migrations_come_up_once_they_run(pg_url, tmp_path):
    log = io.StringIO()
    with temporary_database(pg_url, "nil_first_boot", migrated=False) as url:
        platform = LocalPlatform.on_free_ports(
            url,
            tmp_path / "home",
            runners=1,
            output=log,
            extra_env={"NIL_RUNNERS_MAX": "1"},
        )
        platform.start()
        try:
            base = f"http://127.0.0.1:{platform.port}"
            # Before the migrations: nobody exits, the gateway answers /health and a 503
            # /ready, and the workers log that they wait for the schema.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                waiting = log.getvalue().count("schema.waiting")
                try:
                    ready = requests.get(f"{base}/ready", timeout=5)
                except requests.ConnectionError:
                    ready = None
                if ready is not None and waiting >= 6:
                    break
                time.sleep(0.5)
            assert ready is not None, log.getvalue()[-3000:]
            assert requests.get(f"{base}/health", timeout=5).status_code == 200
            assert ready.status_code == 503
            assert ready.json()["components"]["database"]["status"] == "DOWN"
            assert all(m.proc.poll() is None for m in platform.processes), log.getvalue()[-3000:]
            assert log.getvalue().count("schema.waiting") >= 3  # three workers, backing off

            migrate(url)

            platform.wait_ready(timeout=90)
            assert all(m.proc.poll() is None for m in platform.processes)
            assert "Traceback" not in log.getvalue(), log.getvalue()[-5000:]
            api = Api(base)
            created = api.post("/functions", json=function_body("first"))
            assert created.status_code == 201, created.text
            fid = created.json()["id"]
            api.wait_for_status(fid, {"READY"})
            executed = api.post(f"/functions/{fid}/execute", json={"input": {"first": "boot"}})
            assert executed.status_code == 200, executed.text
            assert executed.json()["output"] == {"first": "boot"}
        finally:
            platform.stop()
