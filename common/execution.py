"""Running a function: record RUNNING, dispatch to a runner, record the outcome (SPEC §5).

Shared by every service that runs executions (the gateway's synchronous execute; the
asynchronous invocation workers next), with the metrics it records. A failure of the
user's function is a COMPLETED request with a FAILED execution; a failure of the platform
is a FAILED execution *and* a 503, never a lost row. The hot path costs two statements:
one resolves the revision to run (db/targets.py: `live`, an alias, weighted routes or a
revision number) and inserts the RUNNING row, one records the outcome.

The call's environment (SPEC §12) is added here, for every way of running: the revision's
`env` and the function's secrets, which the resolving statement brings along sealed
(no round trip of its own) and which are opened only for a function that has some. The
runner redacts their values from the logs and error it returns; `_finish` redacts again
(a platform error's text), so no stored `logs` or `errorMessage` holds a value.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
import weakref
from uuid import UUID

import psycopg_pool
from prometheus_client import Counter, Histogram

from common import idempotency
from common.contracts import LANGUAGES, ExecuteReply, ExecuteRequest, Outcome
from common.db import connection
from common.errors import (
    Conflict,
    DataRejected,
    FunctionNotReady,
    NoRunnerAvailable,
    NotFound,
    RouteNotReady,
    ServiceUnavailable,
    Unauthorized,
)
from common.jsonvalues import compact
from common.notifications import ExecutionWatch
from common.redaction import redact
from common.runners import RunnerPool
from common.secrets import Keyring
from db import executions as repo
from db import functions as functions_repo
from db import outcomes
from db import revisions as revisions_repo
from db.records import ExecutionRecord
from db.targets import RevisionChoice, Target

logger = logging.getLogger(__name__)

EXECUTIONS = Counter(
    "nil_executions_total", "Executions by language and outcome", ["language", "outcome"]
)
EXECUTION_SECONDS = Histogram(
    "nil_execution_duration_seconds",
    "Time the runner spent on one execution",
    ["language"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
)
EXECUTION_FUEL = Histogram(
    "nil_execution_fuel_used",
    "Fuel one execution consumed",
    ["language"],
    buckets=(1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10),
)
RUNNER_WAIT_SECONDS = Histogram(
    "nil_runner_wait_seconds",
    "Time an execution waited for a free runner, by result (ran; no_runner: it gave up, a 503)",
    ["result"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
_WAITED = RUNNER_WAIT_SECONDS.labels("ran")
_GAVE_UP = RUNNER_WAIT_SECONDS.labels("no_runner")
# Every known label value exported from the start, at 0: a first burst shows in rate().
for _language in LANGUAGES:
    EXECUTION_SECONDS.labels(_language)
    EXECUTION_FUEL.labels(_language)
    for _outcome in Outcome:
        EXECUTIONS.labels(_language, _outcome.value)


def execute_function(
    db: psycopg_pool.ConnectionPool,
    runners: RunnerPool,
    function_id: UUID,
    input_value: dict,
    choice: RevisionChoice | None = None,
    *,
    idempotency_key: str | None = None,
    watch: ExecutionWatch | None = None,
    keyring: Keyring | None = None,
) -> ExecutionRecord:
    """Run the revision `choice` names (by default `live`) once on `input_value` and
    return its finished execution. Raises NotFound, FunctionNotReady, Conflict (a
    pruned revision; an idempotency key used for another input), or ServiceUnavailable
    (recorded as FAILED). A repeat of `idempotency_key` returns the execution that holds
    it, once it has ended (waiting on `watch`): common/idempotency.py."""
    choice = choice or RevisionChoice()
    input_json = compact(input_value)
    print_ = idempotency.fingerprint(input_json, choice) if idempotency_key else None
    with connection(db) as conn:
        started = repo.start_execution(
            conn,
            function_id,
            choice,
            execution_id=uuid.uuid4(),
            input_value=input_value,
            input_json=input_json,
            idempotency_key=idempotency_key,
            fingerprint=print_,
        )
    if started is None:
        raise NotFound(f"function {function_id} not found")
    target, running = started.target, started.running
    if running is None and idempotency_key and print_ and target.runnable:
        repeat = idempotency.repeat(db, watch, target, idempotency_key, print_)
        if repeat is not None:
            return repeat
        return execute_function(  # the key's holder was over 24 h old and released it
            db,
            runners,
            function_id,
            input_value,
            choice,
            idempotency_key=idempotency_key,
            watch=watch,
            keyring=keyring,
        )
    if running is None:
        raise refusal(db, target, choice)
    return _run(db, runners, target, running, input_json, keyring)


def execute_route(
    db: psycopg_pool.ConnectionPool,
    runners: RunnerPool,
    routes: list[str],
    input_value: dict,
    choice: RevisionChoice | None = None,
    *,
    authorized: bool,
    keyring: Keyring | None = None,
) -> ExecutionRecord:
    """Run the function whose route is the longest of `routes` (the prefixes of a /fn/
    request's path) on the request `input_value`, like execute_function; the function
    is found in the statement that starts the execution (`trigger: route`). Raises
    NotFound (no such route), Unauthorized (not public and not `authorized`, or no such
    route and not `authorized`), and what execute_function raises."""
    choice = choice or RevisionChoice()
    input_json = compact(input_value)
    with connection(db) as conn:
        started = repo.start_execution(
            conn,
            None,
            choice,
            execution_id=uuid.uuid4(),
            input_value=input_value,
            input_json=input_json,
            routes=routes,
            authorized=authorized,
        )
    path = f"/fn/{routes[0] if routes else ''}"
    if started is None:
        if not authorized:  # as for a private route: which routes exist is no one's business
            raise Unauthorized()
        raise NotFound(f"no function answers at {path}")
    if started.running is None:
        if not (started.public or authorized):
            raise Unauthorized()
        # named by the path the caller knows: a public route does not give the id away
        refused = refusal(db, started.target, choice, f"the function at {path}")
        if isinstance(refused, FunctionNotReady):  # nothing served there yet: 404
            raise RouteNotReady(str(refused))
        raise refused
    return _run(db, runners, started.target, started.running, input_json, keyring)


def _run(
    db: psycopg_pool.ConnectionPool,
    runners: RunnerPool,
    target: Target,
    running: ExecutionRecord,
    input_json: str,
    keyring: Keyring | None,
) -> ExecutionRecord:
    """Dispatch a started execution to a runner and record its outcome."""
    ids = {"executionId": str(running.id), "functionId": str(target.function_id)}
    language = target.language or ""
    logger.info("execution.started", extra={**ids, "revision": target.revision})
    secrets: dict[str, str] = {}
    try:
        secrets = open_secrets(keyring, target)
        result = _dispatch(db, runners, target, input_json, secrets)
    except ServiceUnavailable as exc:
        EXECUTIONS.labels(language, Outcome.PLATFORM_ERROR.value).inc()
        error = redact(f"platform error: {exc.message}", secrets.values())
        _finish(db, running, None, error, None, ids, secrets)
        raise
    _observe(language, result)
    error = None if result.outcome == Outcome.OK else result.error or result.outcome.value
    output = result.output if error is None else None
    return _finish(db, running, output, error, result, ids, secrets)


def open_secrets(keyring: Keyring | None, target: Target) -> dict[str, str]:
    """The function's secrets in plain text: none (and no decryption) when it has none;
    SecretsKeyError (503) when the platform's key cannot open them."""
    if not target.sealed:
        return {}
    keyring = keyring or Keyring()
    return keyring.open_all(target.function_id, target.sealed)


def refusal(
    db: psycopg_pool.ConnectionPool,
    target: Target,
    choice: RevisionChoice,
    subject: str | None = None,
) -> Exception:
    """Why `choice` resolved to nothing runnable, as the error to raise; its message calls
    the function `subject` (default: by its id)."""
    fid = target.function_id
    subject = subject or f"function {fid}"
    if choice.revision is None and not target.alias_exists:
        return NotFound(f"{subject} has no alias {choice.alias_name}")
    if target.revision is None:  # live or latest before any revision was READY
        with connection(db) as conn:
            function = functions_repo.get_function(conn, fid)
        status = function.status.value if function else "deleted"
        revision = function.revision if function else "?"
        return FunctionNotReady(
            f"{subject} has no READY revision yet (revision {revision} is {status});"
            " only READY revisions run"
        )
    if target.status is None:
        return NotFound(f"{subject} has no revision {target.revision}")
    if target.pruned:
        return Conflict(f"revision {target.revision} of {subject} was pruned")
    return FunctionNotReady(
        f"revision {target.revision} of {subject} is {target.status.value};"
        " only READY revisions run"
    )


def _dispatch(
    db: psycopg_pool.ConnectionPool,
    runners: RunnerPool,
    target: Target,
    input_json: str,
    secrets: dict[str, str],
) -> ExecuteReply:
    sha256, limits, language = target.wasm_sha256, target.limits, target.language
    assert sha256 is not None and limits is not None and language is not None

    def load_module() -> bytes:
        with connection(db) as conn:
            wasm = revisions_repo.get_artifact(conn, sha256)
        if wasm is None:
            raise ServiceUnavailable("the revision's artifact was pruned; try again")
        return wasm

    env = {**target.env, **secrets} if secrets else target.env  # a secret shadows an env entry
    request = ExecuteRequest(sha256, input_json, limits, env, tuple(secrets.values()))
    started = time.monotonic()
    try:
        return runners.run(
            str(target.function_id),
            request,
            language=language,
            load_module=load_module,
            dedicated=target.isolation == "dedicated",
            waited=_WAITED.observe,
        )
    except NoRunnerAvailable:  # the wait that ends in a 503 is the one that matters most
        _GAVE_UP.observe(time.monotonic() - started)
        raise


def _observe(language: str, result: ExecuteReply) -> None:
    EXECUTIONS.labels(language, result.outcome.value).inc()
    EXECUTION_SECONDS.labels(language).observe(result.duration_ms / 1000)
    EXECUTION_FUEL.labels(language).observe(result.fuel_used)


def _finish(
    db: psycopg_pool.ConnectionPool,
    running: ExecutionRecord,
    output: str | None,
    error: str | None,
    result: ExecuteReply | None,
    ids: dict[str, str],
    secrets: dict[str, str] | None = None,
) -> ExecutionRecord:
    """Record the outcome, secrets redacted from its logs and error (the runner did
    already; this covers any text made on this side). What the database refuses is
    recorded as a platform FAILED instead, and a function deleted meanwhile (its
    executions with it) is a NotFound."""
    logs = result.logs if result else None
    if secrets:
        error, logs = redact(error, secrets.values()), redact(logs, secrets.values())
    try:
        record = _record(db, running, output, error, result, logs)
    except DataRejected as exc:
        logger.warning("execution.unrecordable", extra={**ids, "error": exc.detail})
        output, error = None, f"platform error: the database refused the result ({exc.detail})"
        record = _record(db, running, None, error, result, None)
    if record is None:
        raise NotFound(
            f"function {running.function_id} was deleted while execution {running.id} ran"
        )
    duration = result.duration_ms if result else None
    if error is None:
        logger.info("execution.completed", extra={**ids, "durationMs": duration})
    else:
        outcome = (result.outcome if result else Outcome.PLATFORM_ERROR).value
        logger.info("execution.failed", extra={**ids, "outcome": outcome, "durationMs": duration})
    return record


def _record(
    db: psycopg_pool.ConnectionPool,
    running: ExecutionRecord,
    output: str | None,
    error: str | None,
    result: ExecuteReply | None,
    logs: str | None,
) -> ExecutionRecord | None:
    """The finished row; None when it is gone (its function was deleted)."""
    record = group_commit(db).write(outcome_of(running, output, error, result, logs))
    if record is None:  # the sweeper failed it meanwhile, or it was deleted
        with connection(db) as conn:
            record = repo.get_execution(conn, running.id)
    return record


def outcome_of(
    running: ExecutionRecord,
    output: str | None,
    error: str | None,
    result: ExecuteReply | None,
    logs: str | None,
) -> outcomes.Finish:
    """What recording `running`'s outcome writes: `result` is None for a platform error."""
    return outcomes.Finish(
        running,
        output_json=output,
        error_message=error,
        duration_ms=result.duration_ms if result else None,
        fuel_used=result.fuel_used if result else None,
        logs=logs,
    )


def _finish_alone(db: psycopg_pool.ConnectionPool, f: outcomes.Finish) -> ExecutionRecord | None:
    with connection(db) as conn:
        return outcomes.finish(conn, f)


class GroupCommit:
    """Outcomes of the executions one process records at once, written in one statement
    and one commit (a leader/follower group commit, as PostgreSQL's own WAL flush does it).
    A thread that records an outcome while no write is in flight writes it at once, on
    its own thread — a sequential execution pays no hand-off. Outcomes that arrive while
    a write is in flight wait for it, then the first of them writes all of them together.
    Every waiter returns only after the commit that holds its outcome: the durability
    promise (a 200 only once the outcome is durable) is the same, with fewer statements,
    commits and WAL flushes under load. A value the database refuses fails only its own
    outcome (the batch is written again one by one)."""

    def __init__(self, db: psycopg_pool.ConnectionPool) -> None:
        self.db = db
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False
        self.batches = 0  # statements written (fewer than outcomes under load)

    def write(self, finish: outcomes.Finish) -> ExecutionRecord | None:
        pending = _Pending(finish)
        with self._cond:
            self._queue.append(pending)
            while not pending.done:
                if not self._writing:
                    self._writing = True
                    batch, self._queue = self._queue, []
                    break
                self._cond.wait()
            else:
                return pending.result()
        try:
            self._write(batch)
        finally:
            with self._cond:
                self._writing = False
                for p in batch:
                    p.done = True
                self._cond.notify_all()
        return pending.result()

    def _write(self, batch: list[_Pending]) -> None:
        self.batches += 1
        try:
            if len(batch) == 1:
                batch[0].record = _finish_alone(self.db, batch[0].finish)
                return
            with connection(self.db) as conn:
                records = outcomes.finish_executions(conn, [p.finish for p in batch])
            for p, record in zip(batch, records, strict=True):
                p.record = record
        except DataRejected:
            if len(batch) == 1:
                raise
            for p in batch:  # one of them was refused: each alone, so only it fails
                try:
                    p.record = _finish_alone(self.db, p.finish)
                except Exception as exc:
                    p.error = exc
        except Exception as exc:
            for p in batch:
                p.error = exc
            if len(batch) == 1:
                batch[0].error = None
                raise


class _Pending:
    __slots__ = ("done", "error", "finish", "record")

    def __init__(self, finish: outcomes.Finish) -> None:
        self.finish = finish
        self.done = False
        self.record: ExecutionRecord | None = None
        self.error: Exception | None = None

    def result(self) -> ExecutionRecord | None:
        if self.error is not None:
            raise self.error
        return self.record


_group_commits: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_group_commits_lock = threading.Lock()


def group_commit(db: psycopg_pool.ConnectionPool) -> GroupCommit:
    """The process's group commit of outcomes on the pool `db`."""
    with _group_commits_lock:
        found = _group_commits.get(db)
        if found is None:
            found = _group_commits[db] = GroupCommit(db)
        return found


def run_attempt(
    db: psycopg_pool.ConnectionPool,
    runners: RunnerPool,
    target: Target,
    input_json: str,
    keyring: Keyring | None = None,
) -> ExecuteReply:
    """One call of `target` on a runner, observed like a synchronous execution's; the
    caller (the asynchronous invocation workers, invoker/) records the outcome. Raises
    ServiceUnavailable for a platform failure (SecretsKeyError when the function's
    secrets cannot be opened). Its logs and error come back with the secrets redacted."""
    try:
        secrets = open_secrets(keyring, target)
        result = _dispatch(db, runners, target, input_json, secrets)
    except ServiceUnavailable:
        EXECUTIONS.labels(target.language or "", Outcome.PLATFORM_ERROR.value).inc()
        raise
    _observe(target.language or "", result)
    if secrets:
        values = secrets.values()
        result = dataclasses.replace(
            result, error=redact(result.error, values), logs=redact(result.logs, values)
        )
    return result
