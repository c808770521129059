"""A secret through the whole running platform (SPEC §12): gateway, builder, consumer,
invoker and runner processes. The function prints it and dies with it, synchronously and
asynchronously; afterwards no service's log, no `/metrics`, no response and no column
of the database outside its ciphertext holds it."""

from __future__ import annotations

import requests

from tests.e2e.test_observability import scrape_text
from tests.integration.test_secrets import C_SOURCE, assert_nowhere, fingerprint

SECRET = 'e2e-s3cret-"value"-ü'


def test_a_secret_is_delivered_and_found_nowhere_else(api, platform):
    created = api.post(
        "/functions",
        json={
            "name": "secret-e2e",
            "language": "c",
            "source": C_SOURCE,
            "env": {"GREETING": "hello"},
            "secrets": {"TOKEN": SECRET},
        },
    )
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    fn = api.wait_for_status(fid, {"READY", "FAILED"}, timeout=120)
    assert fn["status"] == "READY", fn["compileError"]
    bodies = [created.content, requests.get(f"{api.base}/functions/{fid}", timeout=10).content]

    ran = api.post(f"/functions/{fid}/execute", json={"input": {}})
    assert ran.json()["output"] == {"greeting": "hello", **fingerprint(SECRET)}
    printed = api.post(f"/functions/{fid}/execute", json={"input": {"op": "print"}})
    assert printed.json()["logs"] == "token=[redacted]\n"
    trapped = api.post(f"/functions/{fid}/execute", json={"input": {"op": "trap"}})
    assert "[redacted]" in trapped.json()["errorMessage"]
    queued = api.post(f"/functions/{fid}/invocations", json={"input": {"op": "print"}})
    assert queued.status_code == 202, queued.text
    later = api.get(f"/executions/{queued.json()['id']}?wait=20")
    assert later.json()["logs"] == "token=[redacted]\n", later.json()
    bodies += [r.content for r in (ran, printed, trapped, queued, later)]
    bodies.append(api.get(f"/functions/{fid}/executions").content)

    metrics = [text.encode() for text in scrape_text(platform).values()]
    logs = platform.log.getvalue()
    assert "runner.serving" in logs and "compilation.job" in logs  # every service's log
    assert_nowhere(SECRET, [*bodies, *metrics, logs.encode()], platform.database_url)
