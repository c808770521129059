"""Outbox, builder and result consumer on real Postgres + pgmq and real compilers."""

from uuid import UUID

import pytest

from builder.settings import Settings as BuilderSettings
from builder.worker import INTERNAL_ERROR, Builder
from common.contracts import CompilationResult
from common.db import transaction
from common.queue import CompilationQueues
from db import functions as repo
from db.records import FunctionSpec
from tests.integration.helpers import function_body, queue_messages, source

LIMITS = {"timeoutMs": 1000, "memoryMb": 16, "fuel": 1_000_000}


def create(client, **kw):
    response = client.post("/functions", json=function_body(**kw))
    assert response.status_code == 201, response.json
    return response.json


def state(client, fid):
    return client.get(f"/functions/{fid}").json


def test_create_commits_the_function_and_its_job_together(client, db):
    created = create(client)
    with db.connection() as conn:
        jobs = queue_messages(conn, "compilation_jobs")
    assert jobs == [
        {
            "functionId": created["id"],
            "revision": 1,
            "language": "wat",
            "source": source("echo.wat"),
        }
    ]


def test_a_rolled_back_create_leaves_neither_function_nor_job(db):
    spec = FunctionSpec("x", None, "wat", "(module)", _limits())
    queues = CompilationQueues(db)
    with pytest.raises(RuntimeError), transaction(db) as conn:
        record = repo.create_function(conn, spec)
        from common.contracts import CompilationJob

        queues.publish_job(conn, CompilationJob(str(record.id), 1, "wat", "(module)"))
        raise RuntimeError("crash before commit")
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM functions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 0
        assert queue_messages(conn, "compilation_jobs") == []


def _limits():
    from common.contracts import Limits

    return Limits(1000, 16, 1000)


def test_wat_function_compiles_to_ready(client, compile_all, db):
    fid = create(client)["id"]
    compile_all()
    fn = state(client, fid)
    assert fn["status"] == "READY"
    assert fn["compileError"] is None
    assert fn["wasmSize"] > 0 and len(fn["wasmSha256"]) == 64
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_jobs") == []
        assert queue_messages(conn, "compilation_results") == []


def test_assemblyscript_with_json_as_compiles(client, compile_all):
    fid = create(client, language="assemblyscript", src=source("add.ts"))["id"]
    compile_all()
    assert state(client, fid)["status"] == "READY"


def test_syntax_error_fails_with_the_line(client, compile_all):
    fid = create(client, language="assemblyscript", src=source("syntax_error.ts"))["id"]
    compile_all()
    fn = state(client, fid)
    assert fn["status"] == "FAILED"
    assert "function.ts(3," in fn["compileError"]
    assert "/tmp" not in fn["compileError"] and "toolchains" not in fn["compileError"]


def test_wat_that_breaks_the_abi_fails_with_an_abi_error(client, compile_all):
    fid = create(client, src='(module (func (export "handle")))')["id"]
    compile_all()
    fn = state(client, fid)
    assert fn["status"] == "FAILED"
    assert fn["compileError"].startswith("ABI error: ")


def test_the_same_result_applied_twice_leaves_one_state(client, builder, consumer, db):
    fid = create(client)["id"]
    builder.run(wait=False)
    with db.connection() as conn:
        result = queue_messages(conn, "compilation_results")[0]
    CompilationQueues(db).publish_result(CompilationResult.from_json(result))
    assert consumer.run(wait=False) == 2
    first = state(client, fid)
    CompilationQueues(db).publish_result(CompilationResult.from_json(result))
    consumer.run(wait=False)
    again = state(client, fid)
    assert {**again, "updatedAt": None} == {**first, "updatedAt": None}
    assert first["status"] == "READY"


def test_a_superseded_revision_still_gets_its_result(client, builder, consumer, db):
    """Results apply to their own revision (SPEC §9): revision 1 finishing after
    revision 2 was created is READY, and live runs it while revision 2 builds."""
    fid = create(client)["id"]
    builder.run(wait=False)  # result for revision 1 now waits in the queue
    updated = client.put(
        f"/functions/{fid}", json=function_body(src=source("echo.wat").replace("1024", "2048"))
    )
    assert updated.json["revision"] == 2 and updated.json["status"] == "PENDING"
    consumer.run(wait=False)  # applies the revision-1 result to revision 1
    fn = state(client, fid)
    assert (fn["status"], fn["revision"], fn["liveRevision"], fn["wasmSha256"]) == (
        "PENDING",
        2,
        1,
        None,
    )
    assert client.get(f"/functions/{fid}/revisions/1").json["status"] == "READY"
    builder.run(wait=False)
    consumer.run(wait=False)
    fn = state(client, fid)
    assert (fn["status"], fn["liveRevision"]) == ("READY", 2)
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_results") == []


def test_put_of_name_only_keeps_the_revision(client, compile_all, db):
    fid = create(client)["id"]
    compile_all()
    fn = client.put(f"/functions/{fid}", json=function_body(name="renamed")).json
    assert (fn["name"], fn["revision"], fn["status"], fn["liveRevision"]) == (
        "renamed",
        1,
        "READY",
        1,
    )
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_jobs") == []


def test_put_of_limits_only_is_a_revision_ready_at_once(client, compile_all, db):
    fid = create(client)["id"]
    compile_all()
    first = state(client, fid)
    fn = client.put(f"/functions/{fid}", json=function_body(limits=LIMITS, env={"A": "1"})).json
    assert (fn["revision"], fn["status"], fn["liveRevision"], fn["limits"], fn["env"]) == (
        2,
        "READY",
        2,
        LIMITS,
        {"A": "1"},
    )
    assert fn["wasmSha256"] == first["wasmSha256"]
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_jobs") == []
        assert conn.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 1


def test_delete_before_compile_drops_the_job(client, builder, db):
    fid = create(client)["id"]
    assert client.delete(f"/functions/{fid}").status_code == 204
    builder.run(wait=False)
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_jobs") == []
        assert queue_messages(conn, "compilation_results") == []


def test_delete_during_compile_ignores_the_result(client, builder, consumer, db):
    fid = create(client)["id"]
    builder.run(wait=False)
    assert client.delete(f"/functions/{fid}").status_code == 204
    consumer.run(wait=False)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM functions").fetchone()[0] == 0
        assert queue_messages(conn, "compilation_results") == []


def test_a_poison_job_is_dead_lettered(client, db, toolchains, consumer):
    fid = create(client)["id"]
    queues = CompilationQueues(db)
    for _ in range(3):  # three workers took it and crashed; it is visible again at once
        delivery = queues.read_job(vt=30, poll_seconds=0)
        assert delivery is not None
        with db.connection() as conn:
            conn.execute("SELECT pgmq.set_vt('compilation_jobs', %s, 0)", (delivery.msg_id,))
    Builder(db, BuilderSettings(max_reads=3), toolchains).run(wait=False)
    with db.connection() as conn:
        assert queue_messages(conn, "compilation_jobs") == []
        archived = conn.execute("SELECT count(*) FROM pgmq.a_compilation_jobs").fetchone()[0]
    assert archived == 1
    consumer.run(wait=False)
    fn = state(client, fid)
    assert (fn["status"], fn["compileError"]) == ("FAILED", INTERNAL_ERROR)


def test_a_compile_that_runs_too_long_is_killed_and_failed(client, db, toolchains, consumer):
    fid = create(client, language="assemblyscript", src=source("add.ts"))["id"]
    Builder(db, BuilderSettings(compile_timeout_seconds=0.01), toolchains).run(wait=False)
    consumer.run(wait=False)
    fn = state(client, fid)
    assert fn["status"] == "FAILED"
    assert fn["compileError"] == "compilation took longer than 0.01 s"
    # The next compile gets a fresh compiler process.
    second = create(client, language="assemblyscript", src=source("echo.ts"))["id"]
    Builder(db, BuilderSettings(), toolchains).run(wait=False)
    consumer.run(wait=False)
    assert state(client, second)["status"] == "READY"


class ExplodingToolchain:
    language = "wat"

    def compile(self, source, *, timeout):
        raise OSError("disk full")


def test_a_transient_failure_leaves_the_job_to_reappear(client, db):
    fid = create(client)["id"]
    builder = Builder(db, BuilderSettings(), {"wat": ExplodingToolchain()})
    with pytest.raises(OSError):
        builder.run(wait=False)
    with db.connection() as conn:
        row = conn.execute("SELECT read_ct, message FROM pgmq.q_compilation_jobs").fetchone()
        assert queue_messages(conn, "compilation_results") == []
    assert row[0] == 1 and row[1]["functionId"] == fid
    assert state(client, fid)["status"] == "COMPILING"
    assert UUID(fid)
