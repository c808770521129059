"""Revisions, aliases, rollback and pruning (SPEC §9) on real Postgres, the real builder
and real runner processes."""

from __future__ import annotations

import threading
from collections import Counter
from uuid import UUID

import pytest

from common.queue import CompilationQueues
from consumer.housekeeping import Pruner
from db.targets import RevisionChoice, resolve_target
from tests.integration.helpers import function_body, queue_messages, source

BROKEN = "(module (func $oops"


def wat(variant: int) -> str:
    """An echo whose artifact differs per variant (its heap starts elsewhere)."""
    return source("echo.wat").replace("1024", str(1024 + 8 * variant))


@pytest.fixture
def deploy(client, compile_all):
    """POST (or PUT) a WAT echo and build it for real; returns the function's JSON."""

    def run(fid=None, variant=0, src=None, **extra):
        body = function_body(src=src or wat(variant), **extra)
        if fid is None:
            response = client.post("/functions", json=body)
        else:
            response = client.put(f"/functions/{fid}", json=body)
        assert response.status_code in (200, 201), response.json
        compile_all()
        return client.get(f"/functions/{response.json['id']}").json

    return run


def execute(client, fid, query="", body=None):
    return client.post(f"/functions/{fid}/execute{query}", json=body or {"input": {"x": 1}})


def put_alias(client, fid, name, body):
    return client.put(f"/functions/{fid}/aliases/{name}", json=body)


def aliases(client, fid) -> dict[str, dict]:
    return {a["name"]: a for a in client.get(f"/functions/{fid}/aliases").json}


def test_every_execution_records_the_revision_it_ran(client, deploy):
    fid = deploy()["id"]
    first = execute(client, fid).json
    fn = deploy(fid, variant=1)
    assert (fn["revision"], fn["liveRevision"], fn["status"]) == (2, 2, "READY")
    second = execute(client, fid).json
    assert (first["revision"], second["revision"]) == (1, 2)
    assert client.get(f"/executions/{first['id']}").json["revision"] == 1
    history = client.get(f"/functions/{fid}/executions").json
    assert [e["revision"] for e in history] == [2, 1]
    pinned = execute(client, fid, "?revision=1").json
    assert (pinned["status"], pinned["revision"], pinned["output"]) == ("COMPLETED", 1, {"x": 1})
    assert execute(client, fid, "?alias=latest").json["revision"] == 2
    assert execute(client, fid, "?alias=live").json["revision"] == 2


def test_revisions_are_listed_newest_first_and_read_one_by_one(client, deploy):
    fid = deploy(limits={"timeoutMs": 900}, env={"GREETING": "hi"})["id"]
    deploy(fid, variant=1)
    deploy(fid, src=BROKEN)
    listed = client.get(f"/functions/{fid}/revisions").json
    assert [(r["revision"], r["status"]) for r in listed] == [
        (3, "FAILED"),
        (2, "READY"),
        (1, "READY"),
    ]
    assert set(listed[0]) == {
        "revision",
        "status",
        "compileError",
        "language",
        "wasmSize",
        "wasmSha256",
        "pruned",
        "createdAt",
        "builtAt",
    }
    assert listed[0]["compileError"] and listed[0]["wasmSha256"] is None
    page = client.get(f"/functions/{fid}/revisions?limit=1&before=3")
    assert [r["revision"] for r in page.json] == [2]
    assert "before=2" in page.headers["Link"]
    one = client.get(f"/functions/{fid}/revisions/1").json
    assert (one["source"], one["limits"]["timeoutMs"], one["env"]) == (
        wat(0),
        900,
        {"GREETING": "hi"},
    )
    assert client.get(f"/functions/{fid}/revisions/9").status_code == 404
    assert client.get(f"/functions/{fid}/revisions/zero").status_code == 400


def test_a_failed_deploy_keeps_live_serving(client, deploy):
    fid = deploy()["id"]
    fn = deploy(fid, src=BROKEN)
    assert (fn["status"], fn["revision"], fn["liveRevision"]) == ("FAILED", 2, 1)
    assert fn["compileError"]
    ran = execute(client, fid)
    assert (ran.status_code, ran.json["revision"]) == (200, 1)
    refused = execute(client, fid, "?revision=2")
    assert refused.status_code == 400 and "FAILED" in refused.json["message"]


def test_execute_is_400_only_while_no_revision_was_ever_ready(client, deploy, compile_all):
    fid = client.post("/functions", json=function_body(src=BROKEN)).json["id"]
    assert "PENDING" in execute(client, fid).json["message"]
    compile_all()
    refused = execute(client, fid)
    assert refused.status_code == 400 and "no READY revision" in refused.json["message"]
    assert "FAILED" in refused.json["message"]
    assert deploy(fid)["liveRevision"] == 2
    assert execute(client, fid).json["revision"] == 2


def test_a_limits_only_change_while_building_is_compiled_again(client, deploy, db):
    fid = deploy()["id"]
    client.put(f"/functions/{fid}", json=function_body(src=wat(1)))
    building = client.put(
        f"/functions/{fid}", json=function_body(src=wat(1), limits={"timeoutMs": 500})
    ).json
    assert (building["revision"], building["status"], building["liveRevision"]) == (
        3,
        "PENDING",
        1,
    )
    with db.connection() as conn:
        assert [j["revision"] for j in queue_messages(conn, "compilation_jobs")] == [2, 3]


def test_rollback_pins_live_and_latest_can_unpin_it(client, deploy):
    fid = deploy()["id"]
    deploy(fid, variant=1)
    rolled = client.post(f"/functions/{fid}/rollback")
    assert rolled.status_code == 200
    assert {k: rolled.json[k] for k in ("name", "revision", "routes", "pinned")} == {
        "name": "live",
        "revision": 1,
        "routes": None,
        "pinned": True,
    }
    assert execute(client, fid).json["revision"] == 1
    fn = deploy(fid, variant=2)  # a new READY revision does not move a pinned live
    assert (fn["revision"], fn["status"], fn["liveRevision"]) == (3, "READY", 1)
    assert aliases(client, fid)["latest"]["revision"] == 3
    nothing_before = client.post(f"/functions/{fid}/rollback")
    assert nothing_before.status_code == 409
    assert client.post(f"/functions/{fid}/rollback", json={"revision": 2}).json["revision"] == 2
    unpinned = put_alias(client, fid, "live", {"revision": "latest"}).json
    assert (unpinned["revision"], unpinned["pinned"]) == (3, False)
    assert execute(client, fid).json["revision"] == 3


def test_aliases_list_latest_live_and_the_others(client, deploy):
    fid = deploy()["id"]
    deploy(fid, variant=1)
    assert put_alias(client, fid, "stable", {"revision": 1}).status_code == 200
    split = put_alias(client, fid, "canary", {"routes": {"2": 10, "1": 90}}).json
    assert split["routes"] == {"1": 90, "2": 10} and split["revision"] is None
    listed = client.get(f"/functions/{fid}/aliases").json
    assert [(a["name"], a["revision"], a["pinned"]) for a in listed] == [
        ("latest", 2, False),
        ("live", 2, False),
        ("canary", None, True),
        ("stable", 1, True),
    ]
    assert execute(client, fid, "?alias=stable").json["revision"] == 1
    assert client.delete(f"/functions/{fid}/aliases/stable").status_code == 204
    assert execute(client, fid, "?alias=stable").status_code == 404


def test_a_weighted_alias_splits_1000_executions_90_10(client, deploy):
    fid = deploy()["id"]
    deploy(fid, variant=1)
    assert put_alias(client, fid, "canary", {"routes": {"1": 90, "2": 10}}).status_code == 200
    ran = Counter(execute(client, fid, "?alias=canary").json["revision"] for _ in range(1000))
    assert set(ran) == {1, 2}
    assert 850 <= ran[1] <= 950 and 50 <= ran[2] <= 150, ran


def test_concurrent_puts_get_unique_dense_revisions(app, deploy, db):
    fid = deploy()["id"]
    statuses, barrier = [], threading.Barrier(8)

    def put(i: int) -> None:
        barrier.wait()
        body = function_body(src=wat(10 + i))
        statuses.append(app.test_client().put(f"/functions/{fid}", json=body).status_code)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    with db.connection() as conn:
        numbers = [r[0] for r in conn.execute("SELECT revision FROM revisions ORDER BY 1")]
        jobs = sorted(j["revision"] for j in queue_messages(conn, "compilation_jobs"))
    assert numbers == list(range(1, 10)) and jobs == list(range(2, 10))


def test_results_applied_out_of_order_leave_latest_the_newest_ready(
    client, deploy, builder, consumer, db
):
    fid = deploy()["id"]
    for variant, src in ((1, None), (2, None), (3, BROKEN)):  # revisions 2, 3 and 4
        client.put(f"/functions/{fid}", json=function_body(src=src or wat(variant)))
    builder.run(wait=False)
    deliveries = CompilationQueues(db).read_results(vt=30, qty=10, poll_seconds=0)
    by_revision = {d.payload["revision"]: d for d in deliveries}
    assert sorted(by_revision) == [2, 3, 4]
    seen = []
    for revision in (3, 4, 2):  # the newest READY first, the older one last
        consumer.handle(by_revision[revision])
        fn = client.get(f"/functions/{fid}").json
        seen.append((fn["liveRevision"], aliases(client, fid)["latest"]["revision"]))
    assert seen == [(3, 3), (3, 3), (3, 3)]  # live never moved backwards
    fn = client.get(f"/functions/{fid}").json
    assert (fn["revision"], fn["status"]) == (4, "FAILED")
    revisions = client.get(f"/functions/{fid}/revisions").json
    assert [r["status"] for r in revisions] == ["FAILED", "READY", "READY", "READY"]
    assert execute(client, fid, "?revision=2").json["revision"] == 2  # superseded, usable


@pytest.mark.parametrize(
    "name, body, status, fragment",
    [
        ("canary", {"routes": {"1": 50, "2": 40}}, 400, "sum to 100"),
        ("canary", {"routes": {"1": 110, "2": -10}}, 400, "non-negative"),
        ("canary", {"routes": {"1": 90, "7": 10}}, 400, "no revision 7"),
        ("canary", {"routes": {"01": 100}}, 400, "revision numbers"),
        ("canary", {"revision": 7}, 400, "no revision 7"),
        ("canary", {"revision": 1, "routes": {"1": 100}}, 400, "send"),
        ("canary", {"revision": 3}, 409, "FAILED"),
        ("canary", {"revision": 4}, 409, "PENDING"),
        ("canary", {"revision": "latest"}, 400, "only live"),
        ("live", {"routes": {"1": 100}}, 400, "one revision"),
        ("latest", {"revision": 1}, 400, "latest"),
        ("Bad_Name", {"revision": 1}, 400, "alias names"),
    ],
)
def test_bad_alias_requests(client, deploy, name, body, status, fragment):
    fid = deploy()["id"]
    deploy(fid, variant=1)
    deploy(fid, src=BROKEN)  # revision 3: FAILED
    client.put(f"/functions/{fid}", json=function_body(src=wat(4)))  # revision 4: PENDING
    response = put_alias(client, fid, name, body)
    assert response.status_code == status, response.json
    assert fragment in response.json["message"]


def test_bad_choices_and_deletions(client, deploy):
    fid = deploy()["id"]
    missing = "00000000-0000-0000-0000-000000000001"
    cases = [
        (execute(client, fid, "?alias=nope"), 404, "no alias nope"),
        (execute(client, fid, "?revision=9"), 404, "no revision 9"),
        (execute(client, fid, "?revision=0"), 400, "revision number"),
        (execute(client, fid, "?alias=live&revision=1"), 400, "not both"),
        (execute(client, missing, "?alias=live&revision=1"), 404, "not found"),
        (client.delete(f"/functions/{fid}/aliases/live"), 400, "live cannot be deleted"),
        (client.delete(f"/functions/{fid}/aliases/latest"), 400, "latest"),
        (client.delete(f"/functions/{fid}/aliases/nope"), 404, "no alias nope"),
        (client.post(f"/functions/{fid}/rollback"), 409, "before live revision 1"),
        (client.post(f"/functions/{fid}/rollback", json={"revision": 5}), 400, "no revision 5"),
        (put_alias(client, missing, "latest", {"revision": 1}), 404, "not found"),
        (client.get(f"/functions/{missing}/aliases"), 404, "not found"),
    ]
    for response, status, fragment in cases:
        assert (response.status_code, fragment in response.json["message"]) == (status, True), (
            response.json
        )


def test_pruning_keeps_aliased_and_recent_revisions(client, deploy, db):
    fid = deploy()["id"]
    for variant in range(1, 12):  # revisions 2..12, each its own artifact
        deploy(fid, variant=variant)
    assert put_alias(client, fid, "keep", {"revision": 2}).status_code == 200
    assert Pruner(db).prune() == 1  # revision 1: 11 newer READY, no alias
    assert Pruner(db).prune() == 0
    pruned = client.get(f"/functions/{fid}/revisions/1").json
    assert (pruned["pruned"], pruned["status"], pruned["source"]) == (True, "READY", wat(0))
    assert pruned["wasmSha256"] is not None  # kept for display
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 11
    assert execute(client, fid, "?revision=1").status_code == 409
    assert put_alias(client, fid, "old", {"revision": 1}).status_code == 409
    assert client.post(f"/functions/{fid}/rollback", json={"revision": 1}).status_code == 409
    assert execute(client, fid, "?alias=keep").json["revision"] == 2


def test_deleting_a_function_frees_its_artifacts(client, deploy, db):
    fid = deploy()["id"]
    assert client.delete(f"/functions/{fid}").status_code == 204
    Pruner(db).prune()
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0


def test_routes_take_buckets_in_revision_order(client, deploy, db):
    """Over the 100 buckets, a {1: 90, 2: 10} alias runs revision 1 on 0-89, 2 on 90-99."""
    fid = deploy()["id"]
    deploy(fid, variant=1)
    put_alias(client, fid, "canary", {"routes": {"2": 10, "1": 90}})
    with db.connection() as conn:
        chosen = [
            resolve_target(conn, UUID(fid), RevisionChoice(alias="canary"), bucket=b).revision
            for b in range(100)
        ]
    assert chosen == [1] * 90 + [2] * 10
