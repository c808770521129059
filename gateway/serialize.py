"""Records to the API's camelCase JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from db.records import (
    AliasRecord,
    ExecutionRecord,
    ExecutionSummary,
    FunctionRecord,
    FunctionSummary,
    RevisionRecord,
    RevisionSummary,
)
from db.schedules import ScheduleRecord


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def limits_json(f: FunctionRecord) -> dict[str, Any]:
    """The newest revision's limits, and the function's concurrency limit when it has one."""
    if f.concurrency is None:
        return f.limits.to_json()
    return {**f.limits.to_json(), "concurrency": f.concurrency}


def function_json(f: FunctionRecord, secret_names: list[str]) -> dict[str, Any]:
    """The function; its secrets by name only, sorted (SPEC §12: values are write-only)."""
    return {
        "id": str(f.id),
        "name": f.name,
        "description": f.description,
        "language": f.language,
        "source": f.source,
        "status": f.status.value,
        "compileError": f.compile_error,
        "revision": f.revision,
        "liveRevision": f.live_revision,
        "limits": limits_json(f),
        "env": f.env,
        "secrets": sorted(secret_names),
        "isolation": f.isolation,
        "retry": f.retry.to_json(),
        "route": f.route,
        "public": f.public,
        "wasmSize": f.wasm_size,
        "wasmSha256": f.wasm_sha256,
        "createdAt": timestamp(f.created_at),
        "updatedAt": timestamp(f.updated_at),
    }


def function_summary_json(f: FunctionSummary) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "name": f.name,
        "language": f.language,
        "status": f.status.value,
        "createdAt": timestamp(f.created_at),
        "updatedAt": timestamp(f.updated_at),
    }


def execution_json(e: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "functionId": str(e.function_id),
        "revision": e.revision,
        "status": e.status.value,
        "input": e.input,
        "output": e.output,
        "errorMessage": e.error_message,
        "durationMs": e.duration_ms,
        "fuelUsed": e.fuel_used,
        "logs": e.logs,
        "trigger": e.trigger,
        "attempts": e.attempts,
        "deadLettered": e.dead_lettered,
        "startedAt": timestamp(e.started_at),
        "completedAt": timestamp(e.completed_at),
        "createdAt": timestamp(e.created_at),
    }


def execution_summary_json(e: ExecutionSummary) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "revision": e.revision,
        "status": e.status.value,
        "startedAt": timestamp(e.started_at),
        "completedAt": timestamp(e.completed_at),
        "durationMs": e.duration_ms,
        "trigger": e.trigger,
        "attempts": e.attempts,
        "deadLettered": e.dead_lettered,
    }


def revision_summary_json(r: RevisionSummary) -> dict[str, Any]:
    return {
        "revision": r.revision,
        "status": r.status.value,
        "compileError": r.compile_error,
        "language": r.language,
        "wasmSize": r.wasm_size,
        "wasmSha256": r.wasm_sha256,
        "pruned": r.pruned_at is not None,
        "createdAt": timestamp(r.created_at),
        "builtAt": timestamp(r.built_at),
    }


def revision_json(r: RevisionRecord) -> dict[str, Any]:
    return {
        **revision_summary_json(r.summary),
        "source": r.source,
        "limits": r.limits.to_json(),
        "env": r.env,
    }


def alias_json(a: AliasRecord) -> dict[str, Any]:
    return {
        "name": a.name,
        "revision": a.revision,
        "routes": {str(k): v for k, v in a.routes.items()} if a.routes is not None else None,
        "pinned": a.pinned,
        "updatedAt": timestamp(a.updated_at),
    }


def schedule_json(s: ScheduleRecord) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "functionId": str(s.function_id),
        "cron": s.cron,
        "timezone": s.timezone,
        "input": s.input,
        "nextRunAt": timestamp(s.next_run_at),
        "createdAt": timestamp(s.created_at),
    }
