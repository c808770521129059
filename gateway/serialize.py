"""Records to the API's camelCase JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from db.records import ExecutionRecord, ExecutionSummary, FunctionRecord, FunctionSummary


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def function_json(f: FunctionRecord) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "name": f.name,
        "description": f.description,
        "language": f.language,
        "source": f.source,
        "status": f.status.value,
        "compileError": f.compile_error,
        "revision": f.revision,
        "limits": f.limits.to_json(),
        "isolation": f.isolation,
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
        "status": e.status.value,
        "input": e.input,
        "output": e.output,
        "errorMessage": e.error_message,
        "durationMs": e.duration_ms,
        "fuelUsed": e.fuel_used,
        "logs": e.logs,
        "startedAt": timestamp(e.started_at),
        "completedAt": timestamp(e.completed_at),
        "createdAt": timestamp(e.created_at),
    }


def execution_summary_json(e: ExecutionSummary) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "status": e.status.value,
        "startedAt": timestamp(e.started_at),
        "completedAt": timestamp(e.completed_at),
        "durationMs": e.duration_ms,
    }
