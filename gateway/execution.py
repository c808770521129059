"""Running a function: record RUNNING, dispatch to a runner, record the outcome (SPEC §5).

A failure of the user's function is a COMPLETED request with a FAILED execution;
a failure of the platform is a FAILED execution *and* a 503, never a lost row.
The hot path costs two statements: one reads the function and inserts the RUNNING
row, one records the outcome.
"""

from __future__ import annotations

import json
import logging
from uuid import UUID

from common.contracts import ExecuteReply, ExecuteRequest, Outcome
from common.db import connection
from common.errors import FunctionNotReady, NotFound, ServiceUnavailable
from db import executions as repo
from db import functions as functions_repo
from db.records import ExecutionRecord, ExecutionTarget
from gateway import metrics
from gateway.platform import Platform

logger = logging.getLogger(__name__)


def execute_function(p: Platform, function_id: UUID, input_value: dict) -> ExecutionRecord:
    input_json = json.dumps(input_value, separators=(",", ":"), ensure_ascii=False)
    with connection(p.db) as conn:
        started = repo.start_if_ready(conn, function_id, input_value, input_json)
    if started is None:
        raise NotFound(f"function {function_id} not found")
    target, running = started
    if running is None:
        raise FunctionNotReady(
            f"function {function_id} is {target.status.value}; only READY functions run"
        )
    ids = {"executionId": str(running.id), "functionId": str(function_id)}
    logger.info("execution.started", extra=ids)
    try:
        result = _dispatch(p, target, input_json)
    except ServiceUnavailable as exc:
        metrics.EXECUTIONS.labels(target.language, Outcome.PLATFORM_ERROR.value).inc()
        _finish(p, running, None, f"platform error: {exc.message}", None, ids)
        raise
    metrics.observe_execution(target.language, result)
    error = None if result.outcome == Outcome.OK else result.error or result.outcome.value
    return _finish(p, running, result.output if error is None else None, error, result, ids)


def _dispatch(p: Platform, target: ExecutionTarget, input_json: str) -> ExecuteReply:
    def load_module() -> bytes:
        with connection(p.db) as conn:
            wasm = functions_repo.get_wasm_binary(conn, target.id)
        if wasm is None:
            raise ServiceUnavailable("the function's artifact changed; try again")
        return wasm

    dedicated = target.isolation == "dedicated"
    with (
        metrics.time_runner_wait() as waited,
        p.runners.lease(str(target.id), dedicated=dedicated) as runner,
    ):
        waited()
        assert target.wasm_sha256 is not None
        request = ExecuteRequest(target.wasm_sha256, input_json, target.limits)
        return runner.run(request, language=target.language, load_module=load_module)


def _finish(
    p: Platform,
    running: ExecutionRecord,
    output: str | None,
    error: str | None,
    result: ExecuteReply | None,
    ids: dict[str, str],
) -> ExecutionRecord:
    duration = result.duration_ms if result else None
    with connection(p.db) as conn:
        record = repo.finish_execution(
            conn,
            running,
            output_json=output,
            error_message=error,
            duration_ms=duration,
            fuel_used=result.fuel_used if result else None,
            logs=result.logs if result else None,
        )
        if record is None:  # the sweeper failed it meanwhile
            record = repo.get_execution(conn, running.id)
    assert record is not None
    if error is None:
        logger.info("execution.completed", extra={**ids, "durationMs": duration})
    else:
        outcome = (result.outcome if result else Outcome.PLATFORM_ERROR).value
        logger.info("execution.failed", extra={**ids, "outcome": outcome, "durationMs": duration})
    return record
