"""Running a function: record RUNNING, dispatch to a runner, record the outcome (SPEC §5).

A failure of the user's function is a COMPLETED request with a FAILED execution;
a failure of the platform is a FAILED execution *and* a 503, never a lost row.
"""

from __future__ import annotations

import json
import logging
from uuid import UUID

from common.contracts import FunctionStatus
from common.db import transaction
from db import executions as repo
from db import functions as functions_repo
from db.records import ExecutionRecord
from gateway import metrics
from gateway.errors import FunctionNotReady, NotFound, ServiceUnavailable
from gateway.platform import Platform
from gateway.pool.base import RunResult

logger = logging.getLogger(__name__)


def execute_function(p: Platform, function_id: UUID, input_value: dict) -> ExecutionRecord:
    with transaction(p.pool) as conn:
        target = repo.get_target(conn, function_id)
        if target is None:
            raise NotFound(f"function {function_id} not found")
        if target.status is not FunctionStatus.READY or target.wasm_sha256 is None:
            raise FunctionNotReady(
                f"function {function_id} is {target.status.value}; only READY functions run"
            )
        execution = repo.start_execution(conn, function_id, input_value)
    ids = {"executionId": str(execution.id), "functionId": str(function_id)}
    logger.info("execution.started", extra=ids)

    def load_module() -> bytes:
        with transaction(p.pool) as conn:
            wasm = functions_repo.get_wasm_binary(conn, function_id)
        if wasm is None:
            raise ServiceUnavailable("the function's artifact changed; try again")
        return wasm

    try:
        with (
            metrics.time_runner_wait() as waited,
            p.runners.lease(str(function_id), dedicated=target.isolation == "dedicated") as runner,
        ):
            waited()
            result = runner.run(
                sha256=target.wasm_sha256,
                language=target.language,
                input_text=json.dumps(input_value, separators=(",", ":")),
                limits=target.limits,
                load_module=load_module,
            )
    except ServiceUnavailable as exc:
        _record(p, execution.id, None, f"platform error: {exc.message}", None, None, ids)
        metrics.EXECUTIONS.labels(target.language, "platform_error").inc()
        raise
    metrics.observe_execution(target.language, result)
    error = None if result.outcome == "ok" else result.error or result.outcome
    return _record(
        p,
        execution.id,
        result.output if error is None else None,
        error,
        result.duration_ms,
        result.fuel_used,
        ids,
        result,
    )


def _record(
    p: Platform,
    execution_id: UUID,
    output: str | None,
    error: str | None,
    duration_ms: float | None,
    fuel_used: int | None,
    ids: dict[str, str],
    result: RunResult | None = None,
) -> ExecutionRecord:
    with transaction(p.pool) as conn:
        record = repo.finish_execution(
            conn,
            execution_id,
            output_json=output,
            error_message=error,
            duration_ms=duration_ms,
            fuel_used=fuel_used,
        )
        if record is None:  # the sweeper failed it meanwhile
            record = repo.get_execution(conn, execution_id)
    assert record is not None
    if error is None:
        logger.info("execution.completed", extra={**ids, "durationMs": duration_ms})
    else:
        logger.info(
            "execution.failed",
            extra={
                **ids,
                "outcome": result.outcome if result else "platform_error",
                "durationMs": duration_ms,
            },
        )
    return record
