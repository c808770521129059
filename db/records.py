"""Rows as frozen records, built with from_row; no IO here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from common.contracts import ExecutionStatus, FunctionStatus, Limits


@dataclass(frozen=True)
class FunctionRecord:
    id: UUID
    name: str
    description: str | None
    language: str
    source: str
    status: FunctionStatus
    compile_error: str | None
    revision: int
    limits: Limits
    isolation: str
    wasm_size: int | None
    wasm_sha256: str | None
    created_at: datetime
    updated_at: datetime

    COLUMNS = (
        "id, name, description, language, source, status, compile_error, revision,"
        " timeout_ms, memory_mb, fuel, isolation, wasm_size, wasm_sha256, created_at, updated_at"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FunctionRecord:
        return cls(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            language=row["language"],
            source=row["source"],
            status=FunctionStatus(row["status"]),
            compile_error=row["compile_error"],
            revision=row["revision"],
            limits=Limits(row["timeout_ms"], row["memory_mb"], row["fuel"]),
            isolation=row["isolation"],
            wasm_size=row["wasm_size"],
            wasm_sha256=row["wasm_sha256"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class FunctionSummary:
    id: UUID
    name: str
    language: str
    status: FunctionStatus
    created_at: datetime
    updated_at: datetime

    COLUMNS = "id, name, language, status, created_at, updated_at"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FunctionSummary:
        return cls(
            id=row["id"],
            name=row["name"],
            language=row["language"],
            status=FunctionStatus(row["status"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True)
class ExecutionRecord:
    id: UUID
    function_id: UUID
    status: ExecutionStatus
    input: Any
    output: Any
    error_message: str | None
    duration_ms: float | None
    fuel_used: int | None
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    logs: str | None = None  # what the function printed, capped by the runner

    COLUMNS = (
        "id, function_id, status, input, output, error_message, duration_ms, fuel_used,"
        " started_at, completed_at, created_at, logs"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ExecutionRecord:
        return cls(
            id=row["id"],
            function_id=row["function_id"],
            status=ExecutionStatus(row["status"]),
            input=row["input"],
            output=row["output"],
            error_message=row["error_message"],
            duration_ms=row["duration_ms"],
            fuel_used=row["fuel_used"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            created_at=row["created_at"],
            logs=row["logs"],
        )


@dataclass(frozen=True)
class FunctionSpec:
    """What a client asks for on POST or PUT, validated."""

    name: str
    description: str | None
    language: str
    source: str
    limits: Limits
    isolation: str = "shared"


@dataclass(frozen=True)
class PageCursor:
    """Rows strictly older than (created_at, id) in newest-first order."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True)
class ExecutionTarget:
    """What an execution needs to know of its function (no source, no binary)."""

    id: UUID
    status: FunctionStatus
    language: str
    limits: Limits
    wasm_sha256: str | None
    isolation: str = "shared"
