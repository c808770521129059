"""Rows as frozen records, built with from_row; no IO here."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from common.contracts import ExecutionStatus, FunctionStatus, Limits

R = TypeVar("R")


def from_columns(record: type[R], row: dict[str, Any], **derived: Any) -> R:
    """A record from a dict row: every field from the column of its name, except the
    fields given in `derived` (built from several columns, or converted)."""
    names = [f.name for f in fields(record) if f.name not in derived]
    return record(**{name: row[name] for name in names}, **derived)


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
        return from_columns(
            cls,
            row,
            status=FunctionStatus(row["status"]),
            limits=Limits(row["timeout_ms"], row["memory_mb"], row["fuel"]),
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
        return from_columns(cls, row, status=FunctionStatus(row["status"]))


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
        return from_columns(cls, row, status=ExecutionStatus(row["status"]))


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution in a list: no input, output or logs."""

    id: UUID
    function_id: UUID
    status: ExecutionStatus
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: float | None
    created_at: datetime

    COLUMNS = "id, function_id, status, started_at, completed_at, duration_ms, created_at"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ExecutionSummary:
        return from_columns(cls, row, status=ExecutionStatus(row["status"]))


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
