"""The warm path's shortcuts (issue 21) keep their promises, on a real database: outcomes
recorded together (group commit) are each durable and fenced as when written alone, a
refused value fails only its own execution; the pool's checkout check costs no round
trip and still never hands out a dead connection; an idle invocation worker does not
poll the queue, a notification wakes it for a new invocation at once, and its read of
the queue says whether to wake another slot."""

from __future__ import annotations

import threading
import time
from uuid import UUID, uuid4

import psycopg
import pytest

from common.db import connection, open_pool
from common.errors import ConcurrencyLimited, DataRejected
from common.execution import GroupCommit
from common.runners import make_runners
from db import attempts, outcomes
from db import executions as repo
from db.targets import RevisionChoice
from invoker.settings import Settings as InvokerSettings
from invoker.worker import Invoker
from tests.integration.helpers import function_body


@pytest.fixture
def fid(client, compile_all) -> UUID:
    fid = client.post("/functions", json=function_body()).json["id"]
    compile_all()
    assert client.get(f"/functions/{fid}").json["status"] == "READY"
    return UUID(fid)


def start(db, fid: UUID):
    with connection(db) as conn:
        started = repo.start_execution(
            conn, fid, RevisionChoice(), execution_id=uuid4(), input_value={}, input_json="{}"
        )
    assert started is not None and started.running is not None
    return started.running


def test_a_start_runs_alone_unless_its_function_is_limited_then_the_limit_holds(client, db, fid):
    """An unlimited function's start is one statement whose own transaction commits
    without a WAL flush (the connection's setting stays on for what follows); once the
    function is limited, its starts take the locked path, which counts what runs."""
    first = start(db, fid)
    with connection(db) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
    limited = client.put(f"/functions/{fid}", json=function_body(limits={"concurrency": 1}))
    assert limited.status_code == 200, limited.json
    with pytest.raises(ConcurrencyLimited):
        start(db, fid)  # the first still runs
    with connection(db) as conn:
        assert outcomes.finish(conn, finish(first)) is not None
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
    second = start(db, fid)  # the first ended: the limit lets one more run
    assert stored(db, second.id)[0] == "RUNNING"


def test_a_repeated_idempotency_key_is_answered_while_the_limit_is_full(client, db, fid):
    """A repeat needs no slot: with the function's only slot taken, the same key and
    input answer the execution that holds it, another input is 409, a new key 429."""

    def execute(key: str, n: int):
        return client.post(
            f"/functions/{fid}/execute", json={"input": {"n": n}}, headers={"Idempotency-Key": key}
        )

    first = execute("k1", 1)
    assert first.status_code == 200, first.json
    limited = client.put(f"/functions/{fid}", json=function_body(limits={"concurrency": 1}))
    assert limited.status_code == 200, limited.json
    start(db, fid)  # RUNNING: the only slot is taken
    again = execute("k1", 1)
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])
    assert execute("k1", 2).status_code == 409
    assert execute("k2", 1).status_code == 429


def finish(running, output: str = '{"ok": true}') -> outcomes.Finish:
    return outcomes.Finish(running, output, None, 1.5, 1000, "log line")


def stored(db, execution_id: UUID) -> tuple:
    with connection(db) as conn:
        return conn.execute(
            "SELECT status::text, output, error_message, fuel_used, logs, completed_at"
            " FROM executions WHERE id = %s",
            (execution_id,),
        ).fetchone()


def test_outcomes_written_together_are_each_stored_and_answered(db, fid):
    group = GroupCommit(db)
    runs = [start(db, fid) for _ in range(24)]
    records: dict[UUID, object] = {}
    barrier = threading.Barrier(len(runs))

    def record(running) -> None:
        barrier.wait()
        records[running.id] = group.write(finish(running, f'{{"n": "{running.id}"}}'))

    threads = [threading.Thread(target=record, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert group.batches < len(runs)  # some were written together
    for running in runs:
        answered = records[running.id]
        assert answered is not None and answered.status.value == "COMPLETED"
        assert answered.output == {"n": str(running.id)}
        status, output, error, fuel, logs, completed = stored(db, running.id)
        assert (status, output, error, fuel, logs) == (
            "COMPLETED",
            {"n": str(running.id)},
            None,
            1000,
            "log line",
        )
        assert completed == answered.completed_at


def test_a_refused_value_fails_only_its_own_outcome_and_fences_hold(db, fid):
    good, bad, done = start(db, fid), start(db, fid), start(db, fid)
    assert GroupCommit(db).write(finish(done)) is not None
    group = GroupCommit(db)
    with connection(db) as conn:
        batch = outcomes.finish_executions(conn, [finish(done), finish(good)])
    assert batch[0] is None and batch[1] is not None  # already finished: fenced
    other = start(db, fid)
    pending = [group_pending(finish(other)), group_pending(finish(bad, '{"a": "\\u0000"}'))]
    group._write(pending)
    assert pending[0].result() is not None
    with pytest.raises(DataRejected):
        pending[1].result()
    assert stored(db, other.id)[0] == "COMPLETED"
    assert stored(db, bad.id)[0] == "RUNNING"  # _finish records it as a platform error


def group_pending(f):
    from common.execution import _Pending

    return _Pending(f)


def test_the_checkout_check_replaces_a_connection_the_server_closed(db_url):
    pool = open_pool(db_url, min_size=1, max_size=1, name="check")
    pool.wait()
    try:
        with pool.connection() as conn:
            pid = conn.info.backend_pid
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)
        with connection(pool) as conn:  # not the dead one: no error reaches the caller
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != pid
    finally:
        pool.close()


class CountingInvoker(Invoker):
    """The real invoker, counting its reads of the queue."""

    reads = 0

    def take(self):
        CountingInvoker.reads += 1
        return super().take()


def test_an_idle_invoker_does_not_poll_and_wakes_for_a_new_invocation(client, fid, db, runner_dir):
    settings = InvokerSettings.from_env(
        {"runner_dir": str(runner_dir), "runner_wait_ms": 2000, "concurrency": 2}
    )
    runners = make_runners(settings)
    invoker = CountingInvoker(db, runners, settings)
    CountingInvoker.reads = 0
    worker = threading.Thread(target=invoker.run, daemon=True)
    worker.start()
    try:
        assert invoker.watch.connected.wait(10)
        time.sleep(3.0)
        # polling every 50 ms, two slots read ~120 times in 3 s; waiting on LISTEN, once
        # each (and once more each if the fallback read came due)
        assert CountingInvoker.reads <= 2 * settings.concurrency, CountingInvoker.reads
        sent = time.monotonic()
        eid = client.post(f"/functions/{fid}/invocations", json={"input": {}}).json["id"]
        while stored(db, UUID(eid))[0] != "COMPLETED":
            assert time.monotonic() - sent < 2.0, "the idle invoker was not woken"
            time.sleep(0.02)
    finally:
        invoker.stop()
        worker.join(10)
        runners.close()
    assert not worker.is_alive()


def test_take_hides_the_first_visible_message_and_says_whether_another_waits(db):
    """The invoker's read (db/executions.py, `take`): pgmq's read of one message, plus
    whether a second is visible — a slot wakes another only then."""

    def take(vt: int = 30) -> tuple:
        with connection(db) as conn:
            taken = attempts.take(conn, vt=vt, margin_seconds=1.0)
        return (None, False) if taken is None else (taken.delivery, taken.more)

    assert take() == (None, False)
    with connection(db) as conn:
        sent = [
            conn.execute(
                "SELECT pgmq.send('executions', %s::jsonb)", (f'{{"n": {n}}}',)
            ).fetchone()[0]
            for n in range(3)
        ]
    first, more = take()
    assert (first.msg_id, first.read_ct, first.payload, more) == (sent[0], 1, {"n": 0}, True)
    with db.connection() as holder, holder.transaction():  # another reader holds the 2nd
        holder.execute("SELECT 1 FROM pgmq.q_executions WHERE msg_id = %s FOR UPDATE", (sent[1],))
        third, more = take()
        assert (third.msg_id, more) == (sent[2], False)  # skipped, not waited for
    second, more = take(vt=0)  # taken and visible again at once
    assert (second.msg_id, more) == (sent[1], False)
    again, _ = take()
    assert (again.msg_id, again.read_ct) == (sent[1], 2)
    assert take() == (None, False)  # the others are hidden for 30 s
    with connection(db) as conn:
        conn.execute("DELETE FROM pgmq.q_executions WHERE msg_id = ANY(%s)", (sent,))
