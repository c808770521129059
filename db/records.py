"""Rows as frozen records, built with from_row; no IO here."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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
class RetryPolicy:
    """How an asynchronous execution of a function retries (SPEC §2, §10)."""

    max_attempts: int = 3
    backoff_ms: int = 1000

    def to_json(self) -> dict[str, int]:
        return {"maxAttempts": self.max_attempts, "backoffMs": self.backoff_ms}


@dataclass(frozen=True)
class FunctionRecord:
    """A function as the API shows it (the view `function_heads`): its own fields, its
    newest revision's source, settings and build, and the revision `live` points at."""

    id: UUID
    name: str
    description: str | None
    language: str
    source: str
    status: FunctionStatus
    compile_error: str | None
    revision: int
    live_revision: int | None
    limits: Limits
    env: dict[str, str]
    isolation: str
    wasm_size: int | None
    wasm_sha256: str | None
    created_at: datetime
    updated_at: datetime
    retry: RetryPolicy
    route: str | None = None  # answers at /fn/{route} (SPEC §11)
    public: bool = False  # the route needs no API key
    concurrency: int | None = None  # executions RUNNING at once at most; None: unlimited

    COLUMNS = (
        "id, name, description, language, source, status, compile_error, revision,"
        " live_revision, timeout_ms, memory_mb, fuel, env, isolation, wasm_size, wasm_sha256,"
        " created_at, updated_at, retry_max_attempts, retry_backoff_ms, route, public,"
        " (SELECT concurrency FROM functions c WHERE c.id = function_heads.id) AS concurrency"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FunctionRecord:
        return from_columns(
            cls,
            row,
            status=FunctionStatus(row["status"]),
            limits=Limits(row["timeout_ms"], row["memory_mb"], row["fuel"]),
            retry=RetryPolicy(row["retry_max_attempts"], row["retry_backoff_ms"]),
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
    revision: int | None  # None only for executions recorded before revisions existed
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
    trigger: str = "http"  # http | async | schedule | route | sql
    attempts: int = 1  # runs so far (asynchronous executions retry, SPEC §10)
    dead_lettered: bool = False  # FAILED out of attempts

    COLUMNS = (
        "id, function_id, revision, status, input, output, error_message, duration_ms,"
        " fuel_used, started_at, completed_at, created_at, logs, trigger, attempts,"
        " dead_lettered"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ExecutionRecord:
        return from_columns(cls, row, status=ExecutionStatus(row["status"]))

    @classmethod
    def unfinished(
        cls,
        id: UUID,
        function_id: UUID,
        revision: int | None,
        status: ExecutionStatus,
        input: Any,
        created_at: datetime,
        *,
        started_at: datetime | None = None,
        trigger: str = "http",
        attempts: int = 1,
    ) -> ExecutionRecord:
        """A row as just inserted (PENDING or RUNNING): nothing produced yet."""
        return cls(
            id=id,
            function_id=function_id,
            revision=revision,
            status=status,
            input=input,
            output=None,
            error_message=None,
            duration_ms=None,
            fuel_used=None,
            started_at=started_at,
            completed_at=None,
            created_at=created_at,
            trigger=trigger,
            attempts=attempts,
        )


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution in a list: no input, output or logs."""

    id: UUID
    function_id: UUID
    revision: int | None
    status: ExecutionStatus
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: float | None
    created_at: datetime
    trigger: str = "http"
    attempts: int = 1
    dead_lettered: bool = False

    COLUMNS = (
        "id, function_id, revision, status, started_at, completed_at, duration_ms, created_at,"
        " trigger, attempts, dead_lettered"
    )

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
    env: dict[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    route: str | None = None
    public: bool = False
    # write-only (SPEC §12): None keeps the function's secrets, a mapping replaces them
    secrets: dict[str, str] | None = field(default=None, repr=False)
    concurrency: int | None = None  # limits.concurrency: RUNNING at once at most

    def same_revision_as(self, head: FunctionRecord) -> bool:
        """Whether this spec asks for exactly what `head` (the newest revision) runs."""
        return self.builds_like(head) and self.limits == head.limits and self.env == head.env

    def builds_like(self, head: FunctionRecord) -> bool:
        """Whether this spec compiles to `head`'s artifact (same source and language)."""
        return self.source == head.source and self.language == head.language


@dataclass(frozen=True)
class PageCursor:
    """Rows strictly older than (created_at, id) in newest-first order."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True)
class RevisionSummary:
    """A revision in a list: its build, no source."""

    revision: int
    status: FunctionStatus
    compile_error: str | None
    language: str
    wasm_size: int | None
    wasm_sha256: str | None
    pruned_at: datetime | None
    created_at: datetime
    built_at: datetime | None

    COLUMNS = (
        "revision, status, compile_error, language, wasm_size, wasm_sha256, pruned_at,"
        " created_at, built_at"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RevisionSummary:
        return from_columns(cls, row, status=FunctionStatus(row["status"]))


@dataclass(frozen=True)
class RevisionRecord:
    """One revision with what it runs: source, limits, env."""

    summary: RevisionSummary
    source: str
    limits: Limits
    env: dict[str, str]

    COLUMNS = RevisionSummary.COLUMNS + ", source, timeout_ms, memory_mb, fuel, env"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RevisionRecord:
        limits = Limits(row["timeout_ms"], row["memory_mb"], row["fuel"])
        return cls(RevisionSummary.from_row(row), row["source"], limits, row["env"])


@dataclass(frozen=True)
class AliasRecord:
    """A name for revisions: one `revision`, or weighted `routes` ({3: 90, 4: 10}).
    `latest` (computed) and `live` (pinned or following latest) are aliases too."""

    name: str
    revision: int | None
    routes: dict[int, int] | None
    pinned: bool
    updated_at: datetime | None

    COLUMNS = "name, revision, routes, pinned, updated_at"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AliasRecord:
        routes = row["routes"]
        return from_columns(
            cls,
            row,
            routes={int(k): int(v) for k, v in routes.items()} if routes is not None else None,
        )
