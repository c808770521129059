"""A function becomes READY only after a runner compiled its artifact: the consumer warms
the runner the function prefers, and the host's artifact directory holds the result."""

from __future__ import annotations

import uuid

from common.contracts import ExecuteRequest, Limits
from common.runners import RunnerPool
from common.runners.discovery import DirectoryDiscovery
from consumer.results import ResultConsumer
from consumer.warmer import ArtifactWarmer
from tests.integration.helpers import function_body, source

LIMITS = Limits(1000, 16, 1_000_000)


def no_upload() -> bytes:
    raise AssertionError("the runner asked for a module it should already hold")


def test_the_consumer_warms_the_preferred_runner_before_ready(client, db, runner_dir, builder):
    runners = RunnerPool(DirectoryDiscovery(runner_dir), wait_seconds=5)
    consumer = ResultConsumer(db, warmer=ArtifactWarmer(runners, timeout_seconds=30))
    body = function_body("warm", src=source("echo.wat").replace("1024", "2048"))
    response = client.post("/functions", json={**body, "limits": LIMITS.to_json()})
    assert response.status_code == 201
    function_id = response.json["id"]
    builder.run(wait=False)
    consumer.run(wait=False)
    ready = client.get(f"/functions/{function_id}").json
    assert ready["status"] == "READY"
    written = [
        p
        for p in (runner_dir / "artifacts").glob(f"{ready['wasmSha256']}.module.*")
        if not p.name.endswith(".lock")
    ]
    assert len(written) == 1
    request = ExecuteRequest(ready["wasmSha256"], '{"warm":true}', LIMITS)
    result = runners.run(function_id, request, language="wat", load_module=no_upload)
    assert (result.outcome, result.output) == ("ok", '{"warm":true}')


def test_without_reachable_runners_warming_gives_up_at_once(tmp_path):
    runners = RunnerPool(DirectoryDiscovery(tmp_path), wait_seconds=5)
    warmer = ArtifactWarmer(runners, timeout_seconds=1)
    assert warmer.warm(str(uuid.uuid4()), "wat", b"\0asm\x01\0\0\0") is False


def test_a_long_warm_up_does_not_hold_back_other_results(client, db, runner_dir, builder):
    """A Python component warms on the side lane; a WAT result read after it is applied
    first, instead of waiting for the runner's seconds-long compile."""
    runners = RunnerPool(DirectoryDiscovery(runner_dir), wait_seconds=5)
    consumer = ResultConsumer(db, warmer=ArtifactWarmer(runners, timeout_seconds=60))
    python = client.post(
        "/functions",
        json={
            "name": "slow-warm",
            "language": "python",
            "source": "def handle(event):\n    return {'warmed': event}\n",
        },
    ).json["id"]
    wat = client.post(
        "/functions", json=function_body("fast", src=source("echo.wat").replace("1024", "3072"))
    ).json["id"]
    builder.run(wait=False)  # python's result is queued first, then wat's
    consumer.run(wait=False)
    first = client.get(f"/functions/{python}").json
    second = client.get(f"/functions/{wat}").json
    assert (first["status"], second["status"]) == ("READY", "READY")
    assert second["updatedAt"] < first["updatedAt"]
    request = ExecuteRequest(first["wasmSha256"], '{"a":1}', Limits(5000, 64, 2_000_000_000))
    result = runners.run(python, request, language="python", load_module=no_upload)
    assert (result.outcome, result.output) == ("ok", '{"warmed": {"a": 1}}')
