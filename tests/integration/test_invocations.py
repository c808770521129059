"""Asynchronous invocations (SPEC §10) through the gateway and the invocation workers
(invoker/) on real runner processes and a real pgmq queue."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from datetime import datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from common.runners import affinity_order, make_runners
from invoker.settings import Settings as InvokerSettings
from invoker.worker import Invoker, backoff_seconds, deferral_seconds
from tests.integration.helpers import archived_messages, function_body, queue_messages, source


@pytest.fixture
def ready(client, compile_all):
    def make(language="wat", src=None, **extra):
        response = client.post(
            "/functions", json=function_body(language=language, src=src, **extra)
        )
        assert response.status_code == 201, response.json
        compile_all()
        fn = client.get(f"/functions/{response.json['id']}").json
        assert fn["status"] == "READY", fn["compileError"]
        return fn["id"]

    return make


@pytest.fixture
def invoker(db, runner_dir):
    settings = InvokerSettings.from_env(
        {
            "runner_dir": str(runner_dir),
            "runner_wait_ms": 2000,
            "concurrency": 2,
            "visibility_margin_seconds": 0.5,
        }
    )
    runners = make_runners(settings)
    yield Invoker(db, runners, settings)
    runners.close()


def timing_out(ready, *, max_attempts: int, backoff_ms: int, **limits) -> str:
    """A function whose every attempt times out after 300 ms: a retryable outcome."""
    return ready(
        "assemblyscript",
        source("loop.ts"),
        limits={"timeoutMs": 300, "fuel": 10**11, **limits},
        retry={"maxAttempts": max_attempts, "backoffMs": backoff_ms},
    )


def invoke(client, fid, body=None, **kwargs):
    return client.post(f"/functions/{fid}/invocations", json=body or {}, **kwargs)


def drain(invoker, db, deadline: float = 60.0) -> None:
    """Run until no execution is PENDING or RUNNING (retries wait out their backoff)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        invoker.run(wait=False)
        with db.connection() as conn:
            left = conn.execute(
                "SELECT count(*) FROM executions WHERE status IN ('PENDING', 'RUNNING')"
            ).fetchone()[0]
        if left == 0:
            return
        time.sleep(0.05)
    raise TimeoutError("executions left unfinished")


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_an_invocation_is_accepted_pending_and_then_runs_once(client, ready, invoker, db):
    fid = ready()
    response = invoke(client, fid, {"input": {"hello": "async"}})
    assert response.status_code == 202
    body = response.json
    assert response.headers["Location"] == f"/executions/{body['id']}"
    assert (body["status"], body["trigger"], body["attempts"]) == ("PENDING", "async", 0)
    assert body["deadLettered"] is False and body["revision"] == 1
    with db.connection() as conn:
        assert queue_messages(conn, "executions") == [
            {"executionId": body["id"], "functionId": fid, "revision": 1}
        ]
    drain(invoker, db)
    done = client.get(f"/executions/{body['id']}").json
    assert (done["status"], done["output"], done["attempts"]) == (
        "COMPLETED",
        {"hello": "async"},
        1,
    )
    with db.connection() as conn:
        assert queue_messages(conn, "executions") == []


def test_bad_invocations(client, ready):
    fid = ready()
    unknown = str(uuid.uuid4())
    assert invoke(client, unknown).status_code == 404
    assert invoke(client, unknown, {"input": 3}).status_code == 404
    bad = invoke(client, fid, {"input": [1]})
    assert bad.status_code == 400 and bad.json["message"] == "input must be a JSON object"
    long_key = invoke(client, fid, headers={"Idempotency-Key": "k" * 256})
    assert long_key.status_code == 400
    assert invoke(client, fid, headers={"Idempotency-Key": "k" * 255}).status_code == 202
    assert client.post(f"/functions/{fid}/invocations?alias=nope").status_code == 404
    assert client.post(f"/functions/{fid}/invocations?revision=9").status_code == 404


def test_retry_settings_are_validated_stored_and_returned(client):
    made = client.post("/functions", json=function_body(retry={"maxAttempts": 5}))
    assert made.json["retry"] == {"maxAttempts": 5, "backoffMs": 1000}
    default = client.post("/functions", json=function_body())
    assert default.json["retry"] == {"maxAttempts": 3, "backoffMs": 1000}
    for retry in ({"maxAttempts": 0}, {"maxAttempts": 11}, {"backoffMs": -1}, {"x": 1}, 3):
        response = client.post("/functions", json=function_body(retry=retry))
        assert response.status_code == 400, retry
    fid = made.json["id"]
    put = client.put(f"/functions/{fid}", json=function_body(retry={"backoffMs": 50}))
    assert put.json["retry"] == {"maxAttempts": 3, "backoffMs": 50}


def test_a_trapping_function_is_not_retried(client, ready, invoker, db):
    fid = ready("assemblyscript", source("throw.ts"))
    eid = invoke(client, fid).json["id"]
    drain(invoker, db)
    done = client.get(f"/executions/{eid}").json
    assert (done["status"], done["attempts"], done["deadLettered"]) == ("FAILED", 1, False)
    with db.connection() as conn:
        assert queue_messages(conn, "executions") == []
        assert archived_messages(conn, "executions") == []


def test_an_error_holding_nul_is_the_functions_failure_once_not_a_lost_execution(
    client, ready, invoker, db
):
    # PostgreSQL's text refuses NUL: recording the error as it came made every attempt
    # fail to record, and the execution came back after each lease until dead-lettered
    thrower = 'export function handle(input: string): string { throw new Error("boom\\0nul"); }'
    fid = ready("assemblyscript", thrower)
    eid = invoke(client, fid).json["id"]
    drain(invoker, db)
    done = client.get(f"/executions/{eid}").json
    assert (done["status"], done["attempts"], done["deadLettered"]) == ("FAILED", 1, False)
    assert "boom\ufffdnul" in done["errorMessage"]
    synchronous = client.post(f"/functions/{fid}/execute", json={"input": {}}).json
    assert synchronous["status"] == "FAILED"
    assert "boom\ufffdnul" in synchronous["errorMessage"]
    assert "platform error" not in synchronous["errorMessage"]


def test_an_always_timing_out_function_is_retried_with_backoff_then_dead_lettered(
    client, ready, invoker, db
):
    fid = timing_out(ready, max_attempts=3, backoff_ms=400)
    eid = invoke(client, fid).json["id"]
    drain(invoker, db)
    done = client.get(f"/executions/{eid}").json
    assert (done["status"], done["attempts"], done["deadLettered"]) == ("FAILED", 3, True)
    assert done["errorMessage"] == "function exceeded its time limit of 300 ms"
    # three runs of 300 ms and two backoffs of at least 200 ms and 400 ms (equal jitter)
    elapsed = (ts(done["completedAt"]) - ts(done["createdAt"])).total_seconds()
    assert elapsed >= 3 * 0.3 + 0.2 + 0.4
    with db.connection() as conn:
        assert queue_messages(conn, "executions") == []
        assert [m["executionId"] for m in archived_messages(conn, "executions")] == [eid]


def test_a_deferral_doubles_with_each_look_up_to_its_cap():
    assert [deferral_seconds(read_ct) for read_ct in (1, 2, 3, 5, 6, 10**6)] == [
        1.0,
        2.0,
        4.0,
        16.0,
        30.0,
        30.0,
    ]


def test_backoff_is_exponential_with_equal_jitter():
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0)):
        delays = [backoff_seconds(1000, attempt) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays)


def test_a_redelivered_message_never_runs_twice(client, ready, invoker, db):
    fid = ready()
    eid = invoke(client, fid, {"input": {"n": 1}}).json["id"]
    with db.connection() as conn:
        message = queue_messages(conn, "executions")[0]
        # a duplicate delivery of the same message, before and after the run
        conn.execute("SELECT pgmq.send('executions', %s::jsonb)", (json.dumps(message),))
    drain(invoker, db)
    with db.connection() as conn:
        conn.execute("SELECT pgmq.send('executions', %s::jsonb)", (json.dumps(message),))
        # a duplicate read while the execution ran was hidden until its lease ends
        conn.execute("UPDATE pgmq.q_executions SET vt = now()")
    invoker.run(wait=False)
    done = client.get(f"/executions/{eid}").json
    assert (done["status"], done["attempts"]) == ("COMPLETED", 1)
    with db.connection() as conn:
        assert queue_messages(conn, "executions") == []


def test_an_attempt_whose_worker_died_is_claimed_again_and_ends_once(client, ready, invoker, db):
    from db import attempts

    fid = ready()
    eid = uuid.UUID(invoke(client, fid, {"input": {"k": 2}}).json["id"])
    with db.connection() as conn:
        # a worker claimed it and died: RUNNING, attempt 1, its lease over
        claim = attempts.claim_execution(conn, eid, uuid.UUID(fid), 1, margin_seconds=0)
        assert claim is not None and claim.attempt == 1
        conn.execute(
            "UPDATE executions SET started_at = now() - interval '1 minute' WHERE id = %s",
            (eid,),
        )
    drain(invoker, db)
    done = client.get(f"/executions/{eid}").json
    assert (done["status"], done["attempts"], done["output"]) == ("COMPLETED", 2, {"k": 2})


def test_a_runner_killed_mid_call_is_a_retried_platform_failure(
    client, ready, invoker, db, runner_dir
):
    fid = ready(
        "assemblyscript",
        source("loop.ts"),
        limits={"timeoutMs": 3000, "fuel": 10**11},
        retry={"maxAttempts": 2, "backoffMs": 0},
    )
    eid = invoke(client, fid).json["id"]
    target = affinity_order(fid, invoker.runners.addresses())[0]
    pid = _runner_pid(target)
    worker = threading.Thread(target=lambda: invoker.run(wait=False))
    worker.start()
    _wait_until(db, eid, "RUNNING")
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    worker.join(timeout=30)
    drain(invoker, db)
    done = client.get(f"/executions/{eid}").json
    # the first attempt's runner died (platform failure, retried); the second timed out
    assert done["attempts"] == 2
    assert done["status"] == "FAILED" and done["deadLettered"] is True


def _runner_pid(address: str) -> int:
    from common.runners import Runner

    health = Runner(address).health()
    assert health is not None
    return health.pid


def _wait_until(db, eid, status: str, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with db.connection() as conn:
            row = conn.execute("SELECT status FROM executions WHERE id = %s", (eid,)).fetchone()
        if row and row[0] == status:
            return
        time.sleep(0.02)
    raise TimeoutError(f"execution {eid} never {status}")


def test_idempotency_key_on_invocations(client, ready, invoker, db):
    fid, other = ready(), ready()
    headers = {"Idempotency-Key": "order-17"}
    answers: list = []

    def call() -> None:
        answers.append(invoke(client, fid, {"input": {"a": 1}}, headers=headers))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in answers} == {202}
    assert len({r.json["id"] for r in answers}) == 1
    conflict = invoke(client, fid, {"input": {"a": 2}}, headers=headers)
    assert conflict.status_code == 409
    assert invoke(client, other, {"input": {"a": 2}}, headers=headers).status_code == 202
    drain(invoker, db)
    with db.connection() as conn:
        runs = conn.execute(
            "SELECT count(*), sum(attempts) FROM executions WHERE function_id = %s", (fid,)
        ).fetchone()
    assert runs == (1, 1)


def test_nil_invoke_runs_only_when_its_transaction_commits(ready, invoker, db, db_url):
    fid = ready()
    with psycopg.connect(db_url) as conn:
        rolled = conn.execute(
            "SELECT nil.invoke(%s, %s::jsonb)", (fid, '{"from": "sql"}')
        ).fetchone()[0]
        conn.rollback()
        kept = conn.execute(
            "SELECT nil.invoke(%s, %s::jsonb)", (fid, '{"from": "sql"}')
        ).fetchone()[0]
        conn.commit()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="must be a JSON object"):
            conn.execute("SELECT nil.invoke(%s, '[1]'::jsonb)", (fid,))
        conn.rollback()
        with pytest.raises(psycopg.Error, match="not found"):
            conn.execute("SELECT nil.invoke(%s, '{}'::jsonb)", (str(uuid.uuid4()),))
        conn.rollback()
        # what the HTTP API refuses, and the platform's JSON readers cannot read back
        for refused, why in (
            ('{"n": 1' + "0" * 5000 + "}", "too large for a double"),
            ('{"a": ' + "[" * 100 + "]" * 100 + "}", "nested deeper than 100 levels"),
        ):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match=why):
                conn.execute("SELECT nil.invoke(%s, %s::jsonb)", (fid, refused))
            conn.rollback()
        assert conn.execute(  # 100 levels, and the largest doubles, are inputs
            "SELECT nil.input_problem(%s)",
            (Jsonb({"a": json.loads("[" * 99 + "]" * 99), "b": [1.7976931348623157e308]}),),
        ).fetchone() == (None,)
    drain(invoker, db)
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT id, status, trigger, output FROM executions WHERE function_id = %s", (fid,)
        ).fetchall()
    assert rolled not in [r[0] for r in rows]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(kept, "COMPLETED", "sql", {"from": "sql"})]


def test_idempotency_key_on_execute_runs_once_and_answers_alike(client, ready, db):
    fid = ready()
    headers = {"Idempotency-Key": "pay-1"}
    answers: list = []

    def call() -> None:
        answers.append(
            client.post(f"/functions/{fid}/execute", json={"input": {"x": 1}}, headers=headers)
        )

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in answers} == {200}
    assert len({json.dumps(r.json, sort_keys=True) for r in answers}) == 1
    assert answers[0].json["status"] == "COMPLETED"
    other = client.post(f"/functions/{fid}/execute", json={"input": {"x": 2}}, headers=headers)
    assert other.status_code == 409 and other.json["status"] == 409
    revision = client.post(
        f"/functions/{fid}/execute?revision=1", json={"input": {"x": 1}}, headers=headers
    )
    assert revision.status_code == 409  # another revision choice
    with db.connection() as conn:
        assert conn.execute(
            "SELECT count(*) FROM executions WHERE function_id = %s", (fid,)
        ).fetchone() == (1,)
        # after 24 h the key is free again
        conn.execute(
            "UPDATE executions SET created_at = now() - interval '25 hours' WHERE function_id = %s",
            (fid,),
        )
    again = client.post(f"/functions/{fid}/execute", json={"input": {"x": 2}}, headers=headers)
    assert again.status_code == 200 and again.json["output"] == {"x": 2}


def test_wait_returns_when_the_execution_ends_and_at_the_deadline_otherwise(
    client, ready, invoker, db
):
    fid = ready()
    eid = invoke(client, fid, {"input": {"w": 1}}).json["id"]
    for bad in ("31", "-1", "x", "nan", "1_0", "\u0663", " 1", "1e2", "inf"):
        assert client.get(f"/executions/{eid}?wait={bad}").status_code == 400
    started = time.monotonic()
    pending = client.get(f"/executions/{eid}?wait=0.5").json
    assert pending["status"] == "PENDING"
    assert 0.5 <= time.monotonic() - started < 3
    timer = threading.Timer(0.5, lambda: invoker.run(wait=False))
    timer.start()
    started = time.monotonic()
    done = client.get(f"/executions/{eid}?wait=20").json
    elapsed = time.monotonic() - started
    timer.join()
    assert done["status"] == "COMPLETED" and done["output"] == {"w": 1}
    assert elapsed < 10  # woken by the notification, well before 20 s
    assert client.get(f"/executions/{uuid.uuid4()}?wait=1").status_code == 404


def test_a_limited_execution_refused_before_a_slot_freed_is_looked_at_again_at_once(
    client, ready, invoker, db
):
    """The claim refused it at limits.concurrency; an outcome committed before the
    worker looked again freed the slot. It must not be hidden for a whole lease (an
    outsider saw 17 to 30 s of idle backlog)."""
    from common.queue import Delivery

    fid = ready(limits={"concurrency": 1, "timeoutMs": 20000})
    eid = invoke(client, fid, {"input": {"x": 1}}).json["id"]
    with db.connection() as conn:
        msg_id, message = conn.execute("SELECT msg_id, message FROM pgmq.q_executions").fetchone()
        delivery = Delivery(msg_id, 1, message)
        invoker._unclaimable(conn, delivery, uuid.UUID(eid), uuid.UUID(fid), 1)
        hidden = conn.execute(
            "SELECT extract(epoch FROM vt - clock_timestamp()) FROM pgmq.q_executions"
        ).fetchone()[0]
    assert hidden <= 0.5  # visible now, not after timeout + margin + runner wait (22.5 s)
    drain(invoker, db)
    assert client.get(f"/executions/{eid}").json["status"] == "COMPLETED"


def test_a_limited_functions_finished_attempt_wakes_the_oldest_first_attempt_it_deferred(
    client, ready, invoker, db, monkeypatch
):
    """The async outcome of a limited function hands its slot on at once: the oldest
    execution the limit deferred becomes visible, not after its next look (stretched
    here to a minute, so only the wake can run it in time). A deferred retry keeps its
    backoff; an unlimited function's outcome wakes nothing."""
    from db import attempts, outcomes
    from invoker import worker

    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_SECONDS", 60.0)
    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_MAX_SECONDS", 60.0)
    fid = ready(limits={"concurrency": 1})
    first, second, third, retry = (invoke(client, fid).json["id"] for _ in range(4))
    with db.connection() as conn:
        messages = dict(
            conn.execute("SELECT message->>'executionId', msg_id FROM pgmq.q_executions")
        )
        # the last one failed once and waits out its backoff
        conn.execute(
            "UPDATE executions SET attempts = 1, retry_at = now() + interval '1 minute'"
            " WHERE id = %s",
            (retry,),
        )
        with conn.transaction():
            holder = attempts.claim_execution(
                conn, uuid.UUID(first), uuid.UUID(fid), 1, margin_seconds=60
            )
    invoker.run(wait=False)  # the slot is taken: every other one is deferred

    def hidden(eid: str) -> float:
        with db.connection() as conn:
            return conn.execute(
                "SELECT extract(epoch FROM vt - clock_timestamp())::float8"
                " FROM pgmq.q_executions WHERE msg_id = %s",
                (messages[eid],),
            ).fetchone()[0]

    assert all(hidden(eid) > 50 for eid in (second, third, retry))
    with db.connection() as conn:
        outcome = outcomes.Finish(holder.running, '{"ok": true}', None, 1.0, 1, None)
        assert outcomes.finish(conn, outcome, message=messages[first]) is not None
    assert hidden(second) <= 0 and hidden(third) > 50 and hidden(retry) > 50

    def status(eid: str) -> str:
        return client.get(f"/executions/{eid}").json["status"]

    deadline = time.monotonic() + 20
    while status(third) != "COMPLETED":  # each outcome wakes the next: no minute's wait
        assert time.monotonic() < deadline, [status(eid) for eid in (second, third)]
        invoker.run(wait=False)
    assert status(second) == "COMPLETED" and status(retry) == "PENDING"
    assert hidden(retry) > 50
    with db.connection() as conn:  # its backoff over
        conn.execute("UPDATE executions SET retry_at = now() WHERE id = %s", (retry,))
        conn.execute(
            "UPDATE pgmq.q_executions SET vt = now() WHERE msg_id = %s", (messages[retry],)
        )
    drain(invoker, db)


def test_a_backlog_at_a_limit_is_deferred_at_once_and_a_lifted_limit_wakes_idle_workers(
    client, ready, invoker, db, monkeypatch
):
    """Refused at limits.concurrency, a message takes the function's other visible
    messages with it: the backlog waits after a read or two, instead of each message
    being read (ahead of every other function's) and deferred in turn. A PUT that
    raises or lifts the limit makes them visible and wakes idle invokers at once — not
    at their next look (up to 30 s), nor at an idle slot's fallback read (5 s)."""
    from db import attempts
    from invoker import worker

    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_SECONDS", 60.0)
    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_MAX_SECONDS", 60.0)
    fid = ready(limits={"concurrency": 1})
    first, *waiting = (invoke(client, fid).json["id"] for _ in range(7))
    with db.connection() as conn, conn.transaction():
        attempts.claim_execution(conn, uuid.UUID(first), uuid.UUID(fid), 1, margin_seconds=60)
    invoker.run(wait=False)  # the slot is taken: the others are deferred

    def queued() -> list[tuple[float, int]]:
        with db.connection() as conn:
            return conn.execute(
                "SELECT extract(epoch FROM vt - clock_timestamp())::float8, read_ct"
                " FROM pgmq.q_executions WHERE message->>'executionId' = ANY(%s)",
                (waiting,),
            ).fetchall()

    assert all(seconds > 50 for seconds, _ in queued())
    assert sum(reads for _, reads in queued()) <= invoker.settings.concurrency
    idle = threading.Thread(target=invoker.run, daemon=True)
    idle.start()
    try:
        assert invoker.watch.connected.wait(10)
        time.sleep(0.5)  # both slots wait on LISTEN
        assert client.put(f"/functions/{fid}", json=function_body()).status_code == 200
        deadline = time.monotonic() + 2.5
        while any(
            client.get(f"/executions/{eid}").json["status"] != "COMPLETED" for eid in waiting
        ):
            assert time.monotonic() < deadline, "the lifted limit woke no idle invoker"
            time.sleep(0.05)
    finally:
        invoker.stop()
        idle.join(10)
    with db.connection() as conn:  # the one claimed by hand is left RUNNING: not ours
        conn.execute("DELETE FROM executions WHERE function_id = %s", (fid,))
        conn.execute("DELETE FROM pgmq.q_executions")


@pytest.mark.parametrize("max_attempts", [1, 2], ids=["dead letter", "retry"])
def test_a_limited_functions_dead_letter_or_retry_wakes_the_first_attempt_it_deferred(
    client, ready, invoker, db, monkeypatch, max_attempts
):
    """A slot freed by an attempt that times out — dead-lettered, or released for its
    retry — goes to the oldest execution the limit deferred at once, as an outcome's
    does (an outsider measured 0.7 s gaps between dead letters)."""
    from common.queue import Delivery
    from db import attempts
    from invoker import worker

    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_SECONDS", 60.0)
    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_MAX_SECONDS", 60.0)
    fid = timing_out(ready, max_attempts=max_attempts, backoff_ms=60_000, concurrency=1)
    first, second = (invoke(client, fid).json["id"] for _ in range(2))
    with db.connection() as conn:
        messages = {
            m["executionId"]: (i, m)
            for i, m in conn.execute("SELECT msg_id, message FROM pgmq.q_executions")
        }
        with conn.transaction():
            claim = attempts.claim_execution(
                conn, uuid.UUID(first), uuid.UUID(fid), 1, margin_seconds=60
            )
    invoker.run(wait=False)  # the slot is taken: the second one is deferred
    msg_id, message = messages[first]
    invoker._run(Delivery(msg_id, 1, message), claim)  # times out
    with db.connection() as conn:
        visible = conn.execute(
            "SELECT msg_id FROM pgmq.q_executions WHERE vt <= clock_timestamp()"
        ).fetchall()
        conn.execute("DELETE FROM pgmq.q_executions")
        conn.execute("DELETE FROM executions WHERE function_id = %s", (fid,))
    assert [i for (i,) in visible] == [messages[second][0]]


@pytest.mark.parametrize("ended_by", ["group commit", "alone", "sweeper"])
def test_a_limited_functions_synchronous_outcomes_wake_as_many_as_they_deferred(
    client, ready, invoker, db, db_url, monkeypatch, ended_by
):
    """Slots freed by synchronous calls — recorded together by the gateway's group
    commit, each on its own, or failed as lost by the consumer's sweeper (the gateway
    died) — go to as many of the oldest executions the limit
    deferred at once, and the idle invokers are told: no invoker slot freed them, so
    none would read the queue before its fallback (and the messages' next look is up to
    30 s away)."""
    from consumer.sweeper import Sweeper
    from db import executions, outcomes
    from db.targets import RevisionChoice
    from invoker import worker

    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_SECONDS", 60.0)
    monkeypatch.setattr(worker, "CONCURRENCY_RETRY_MAX_SECONDS", 60.0)
    fid = ready(limits={"concurrency": 2})
    with db.connection() as conn:  # two synchronous calls hold both slots
        calls = [
            executions.start_execution(
                conn,
                uuid.UUID(fid),
                RevisionChoice(),
                execution_id=uuid.uuid4(),
                input_value={},
                input_json="{}",
            ).running
            for _ in range(2)
        ]
    queued = [invoke(client, fid).json["id"] for _ in range(3)]
    invoker.run(wait=False)  # deferred for a minute

    def hidden() -> list[float]:
        with db.connection() as conn:
            return [
                seconds
                for (seconds,) in conn.execute(
                    "SELECT extract(epoch FROM vt - clock_timestamp())::float8"
                    " FROM pgmq.q_executions ORDER BY msg_id"
                )
            ]

    assert all(seconds > 50 for seconds in hidden())
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN nil_executions_queued")
        with db.connection() as conn:
            ended = [outcomes.Finish(call, '{"ok": true}', None, 1.0, 1, None) for call in calls]
            if ended_by == "group commit":
                assert None not in outcomes.finish_executions(conn, ended)
            elif ended_by == "alone":
                assert None not in [outcomes.finish(conn, outcome) for outcome in ended]
            else:
                conn.execute(
                    "UPDATE executions SET started_at = now() - interval '1 hour'"
                    " WHERE id = ANY(%s)",
                    ([call.id for call in calls],),
                )
        if ended_by == "sweeper":
            assert Sweeper(db, margin_ms=0).sweep() == 2
        first, second, third = hidden()
        assert first <= 0 and second <= 0 and third > 50  # two slots freed: two woken
        assert list(listener.notifies(timeout=5, stop_after=1)), "no idle invoker was told"
    drain(invoker, db, deadline=10)
    assert [client.get(f"/executions/{eid}").json["status"] for eid in queued[:2]] == [
        "COMPLETED"
    ] * 2


def test_messages_sent_by_hand_run_nothing_but_their_own_execution(client, ready, invoker, db):
    """A message names an execution, its function and its revision. One sent by hand on
    the queue (an application may write to it) that names another function or revision
    than the execution's, a synchronous call's execution, or no valid revision is
    archived and runs nothing; it never spins or blocks the queue, and the execution
    it named runs once, as it was enqueued."""
    echo, thrower = ready(), ready("assemblyscript", source("throw.ts"))
    eid = invoke(client, echo, {"input": {"n": 1}}).json["id"]
    synchronous = client.post(f"/functions/{echo}/execute", json={"input": {}}).json["id"]
    with db.connection() as conn:  # as if its gateway still ran it, long past its lease
        conn.execute(
            "UPDATE executions SET status = 'RUNNING', started_at = now() - interval '1 hour',"
            " completed_at = NULL, output = NULL WHERE id = %s",
            (synchronous,),
        )
        conn.execute("UPDATE pgmq.q_executions SET vt = now() + interval '1 hour'")
        forged = [
            {"executionId": eid, "functionId": thrower, "revision": 1},
            {"executionId": eid, "functionId": echo, "revision": 2},
            {"executionId": eid, "functionId": echo, "revision": 2**31},
            {"executionId": eid, "functionId": echo, "revision": "1.0"},
            {"executionId": synchronous, "functionId": echo, "revision": 1},
        ]
        for payload in forged:
            conn.execute("SELECT pgmq.send('executions', %s)", (Jsonb(payload),))
        unreadable = [  # jsonb holds them; Python's JSON cannot read them back
            '{"revision": 1' + "0" * 5000 + "}",
            '{"pad": ' + "[" * 3000 + "1" + "]" * 3000 + "}",
        ]
        for text in unreadable:
            conn.execute("SELECT pgmq.send('executions', %s::jsonb)", (text,))
    worker = threading.Thread(target=invoker.run, kwargs={"wait": False}, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the invoker kept reading the forged messages"
    with db.connection() as conn:
        archived = [
            text
            for (text,) in conn.execute(
                "WITH gone AS (DELETE FROM pgmq.a_executions RETURNING msg_id, message::text)"
                " SELECT message FROM gone ORDER BY msg_id"
            )
        ]
        assert [json.loads(text) for text in archived[: len(forged)]] == forged
        assert archived[len(forged) :] == unreadable
        states = dict(conn.execute("SELECT id::text, status FROM executions"))
        assert (states[eid], states[synchronous]) == ("PENDING", "RUNNING")
        conn.execute("UPDATE executions SET status = 'COMPLETED' WHERE id = %s", (synchronous,))
        conn.execute("UPDATE pgmq.q_executions SET vt = now()")
    drain(invoker, db)
    done = client.get(f"/executions/{eid}").json
    assert (done["status"], done["attempts"], done["output"]) == ("COMPLETED", 1, {"n": 1})


def test_a_retry_waits_out_its_backoff_whatever_message_names_it(client, ready, invoker, db):
    """The backoff is on the row (retry_at): a second message for the execution — sent
    by hand — is hidden until the backoff ends instead of starting the retry early."""
    fid = timing_out(ready, max_attempts=2, backoff_ms=60_000)
    eid = invoke(client, fid).json["id"]
    invoker.run(wait=False)  # attempt 1 times out; the retry waits 30-60 s
    with db.connection() as conn:
        [message] = queue_messages(conn, "executions")
        conn.execute("SELECT pgmq.send('executions', %s)", (Jsonb(message),))
    invoker.run(wait=False)
    with db.connection() as conn:
        hidden = [
            seconds
            for (seconds,) in conn.execute(
                "SELECT extract(epoch FROM vt - clock_timestamp())::float8 FROM pgmq.q_executions"
            )
        ]
        state = conn.execute(
            "SELECT status, attempts, extract(epoch FROM retry_at - clock_timestamp())::float8"
            " FROM executions WHERE id = %s",
            (eid,),
        ).fetchone()
        conn.execute("DELETE FROM pgmq.q_executions")
        conn.execute("DELETE FROM executions WHERE function_id = %s", (fid,))
    assert state[:2] == ("PENDING", 1) and 25 < state[2] <= 60
    assert len(hidden) == 2 and all(25 < seconds <= 60 for seconds in hidden), hidden


def test_the_read_claims_an_unlimited_execution_and_hides_its_message_for_the_lease(
    client, ready, db
):
    """take: the first visible message and, in the same statement, the claim of its
    execution with the message hidden for the lease — for an unlimited function; a
    limited function's execution, one another attempt holds, and a message naming
    nothing runnable are taken unclaimed (hidden for the read's visibility timeout)."""
    from db import attempts

    def take():
        with db.connection() as conn:
            return attempts.take(conn, vt=30, margin_seconds=2.5)

    def hidden_for(msg_id: int) -> float:
        with db.connection() as conn:
            return conn.execute(
                "SELECT extract(epoch FROM vt - clock_timestamp())::float8"
                " FROM pgmq.q_executions WHERE msg_id = %s",
                (msg_id,),
            ).fetchone()[0]

    def make_visible(msg_id: int) -> None:
        with db.connection() as conn:
            conn.execute("UPDATE pgmq.q_executions SET vt = now() WHERE msg_id = %s", (msg_id,))

    assert take() is None  # nothing visible
    fid = ready(limits={"timeoutMs": 4000})
    eid = invoke(client, fid, {"input": {"x": 1}}).json["id"]
    taken = take()
    claimed = taken.claim
    assert taken.delivery.payload["executionId"] == eid and taken.delivery.read_ct == 1
    assert claimed is not None and claimed.attempt == 1 and claimed.input_json == '{"x": 1}'
    assert str(claimed.running.id) == eid and claimed.target.limits.timeout_ms == 4000
    assert 6.0 < hidden_for(taken.delivery.msg_id) <= 6.5  # the timeout plus the margin
    assert client.get(f"/executions/{eid}").json["status"] == "RUNNING"
    make_visible(taken.delivery.msg_id)
    again = take()  # this attempt holds it until its lease ends
    assert again.delivery.msg_id == taken.delivery.msg_id and again.delivery.read_ct == 2
    assert again.claim is None and 29.0 < hidden_for(taken.delivery.msg_id) <= 30.0

    limited = ready(limits={"concurrency": 1})
    other = invoke(client, limited, {"input": {}}).json["id"]
    taken = take()
    assert taken.delivery.payload["executionId"] == other and taken.claim is None
    assert client.get(f"/executions/{other}").json["status"] == "PENDING"  # left to the lock

    payloads = [  # naming nothing runnable: taken unclaimed, never a failed statement
        {"executionId": "x", "functionId": fid, "revision": 1},
        {"executionId": eid, "functionId": fid, "revision": 12345678901},  # no integer
        {"executionId": eid, "functionId": fid[:-1], "revision": 1},
        [1],
        "s",
    ]
    with db.connection() as conn:
        for payload in payloads:
            conn.execute("SELECT pgmq.send('executions', %s)", (Jsonb(payload),))
    bad = [take() for _ in payloads]
    assert [(t.delivery.payload, t.claim) for t in bad] == [(p, None) for p in payloads]
    assert take() is None
    with db.connection() as conn:
        conn.execute("DELETE FROM pgmq.q_executions")


def test_a_long_poll_on_an_execution_deleted_with_its_function_ends_at_once(client, ready):
    """Deleting a function deletes its executions; an unfinished one wakes its waiters
    (migration 0012), who answer 404 at once instead of at their deadline."""
    fid = ready()
    eid = invoke(client, fid, {"input": {}}).json["id"]  # PENDING: no invoker here
    answered: list = []

    def wait() -> None:
        started = time.monotonic()
        response = client.get(f"/executions/{eid}?wait=20")
        answered.append((response.status_code, time.monotonic() - started))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)  # the waiter is waiting
    assert client.delete(f"/functions/{fid}").status_code == 204
    waiter.join(timeout=25)
    [(status, seconds)] = answered
    assert status == 404 and seconds < 5, answered


def test_a_retry_resent_with_its_idempotency_key_starts_one_execution(client, ready):
    fid = ready()
    eid = invoke(client, fid, {"input": {"r": 1}}).json["id"]
    headers = {"Idempotency-Key": "retry-once"}
    first = client.post(f"/executions/{eid}/retry", headers=headers)
    again = client.post(f"/executions/{eid}/retry", headers=headers)
    other = client.post(f"/executions/{eid}/retry")
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json["id"] == again.json["id"] != other.json["id"]
    assert first.json["input"] == {"r": 1}
    bad = client.post(f"/executions/{eid}/retry", headers={"Idempotency-Key": ""})
    assert bad.status_code == 400 and bad.json["error"]


def test_dead_letters_are_listed_and_retried_with_the_same_input_and_choice(
    client, ready, invoker, db
):
    fid = ready(
        "assemblyscript",
        source("loop.ts"),
        limits={"timeoutMs": 200, "fuel": 10**11},
        retry={"maxAttempts": 1},
    )
    dead = invoke(client, fid, {"input": {"d": 1}}).json["id"]
    drain(invoker, db)
    client.post(f"/functions/{fid}/execute", json={})  # a FAILED, not dead-lettered
    listed = client.get(f"/functions/{fid}/executions?status=FAILED&deadLettered=true").json
    assert [e["id"] for e in listed] == [dead] and listed[0]["deadLettered"] is True
    others = client.get(f"/functions/{fid}/executions?deadLettered=false").json
    assert dead not in [e["id"] for e in others] and len(others) == 1
    assert client.get(f"/functions/{fid}/executions?status=nope").status_code == 400
    assert client.get(f"/functions/{fid}/executions?deadLettered=yes").status_code == 400
    retried = client.post(f"/executions/{dead}/retry")
    assert retried.status_code == 202
    again = retried.json
    assert again["id"] != dead and again["input"] == {"d": 1}
    assert (again["status"], again["trigger"], again["revision"]) == ("PENDING", "async", 1)
    assert retried.headers["Location"] == f"/executions/{again['id']}"
    assert client.post(f"/executions/{uuid.uuid4()}/retry").status_code == 404
    assert client.post("/executions/nope/retry").status_code == 400
    # the choice of revision is kept: one made with ?revision=1 retries revision 1
    pinned = invoke(client, fid, {"input": {}}, query_string={"revision": "1"}).json["id"]
    with db.connection() as conn:
        choice = conn.execute("SELECT choice FROM executions WHERE id = %s", (pinned,))
        assert choice.fetchone()[0] == {"revision": 1}


def test_retention_deletes_old_executions_and_dead_letters_in_batches(client, ready, invoker, db):
    from consumer.retention import Retention

    fid = ready()
    ids = [invoke(client, fid, {"input": {"r": n}}).json["id"] for n in range(5)]
    drain(invoker, db)
    keyed = invoke(client, fid, {"input": {}}, headers={"Idempotency-Key": "old"}).json["id"]
    drain(invoker, db)
    with db.connection() as conn:
        conn.execute(
            "UPDATE executions SET created_at = now() - interval '40 days'"
            " WHERE id = ANY(%s::uuid[])",
            (ids[:3],),
        )
        conn.execute(
            "UPDATE executions SET created_at = now() - interval '2 days' WHERE id = %s",
            (keyed,),
        )
        conn.execute("SELECT pgmq.send('executions', '{}'::jsonb)")
        msg = conn.execute("SELECT max(msg_id) FROM pgmq.q_executions").fetchone()[0]
        conn.execute("SELECT pgmq.archive('executions', %s::bigint)", (msg,))
        conn.execute("UPDATE pgmq.a_executions SET archived_at = now() - interval '40 days'")
    assert Retention(db, days=30, batch=2).run() == 3 + 1 + 1
    with db.connection() as conn:
        left = {str(r[0]) for r in conn.execute("SELECT id FROM executions")}
        assert archived_messages(conn, "executions") == []
        key = conn.execute("SELECT idempotency_key FROM executions WHERE id = %s", (keyed,))
        assert key.fetchone() == (None,)
    assert left == {*ids[3:], keyed}
