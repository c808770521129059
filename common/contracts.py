"""Records that cross service boundaries: statuses, limits, queue messages, and the
runner's wire contract (ExecuteRequest → ExecuteReply with one Outcome).

Each record owns its JSON shape (`to_json` / `from_json`), and the runner's records their
frame shape too (`frame` / `from_frame`: a JSON head and a binary body, so inputs,
outputs and modules travel as bytes, not as escaped JSON strings): adding a field is a
change here plus its round-trip test; the transports (runner/server.py,
common/runners/transport.py) only move them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from common.abi import ABI_BY_LANGUAGE

JOBS_QUEUE = "compilation_jobs"
RESULTS_QUEUE = "compilation_results"
EXECUTIONS_QUEUE = "executions"  # asynchronous invocations (SPEC §10)
MAX_MODULE_BYTES = 32 * 1024 * 1024  # the largest artifact a runner accepts (Python: ~20 MB)

# The languages the platform accepts, derived from the one registry (common/abi.py).
# tests/unit/test_languages.py checks every one has a toolchain, a runner adapter for
# its ABI and examples in the guide.
LANGUAGES = tuple(ABI_BY_LANGUAGE)


class FunctionStatus(StrEnum):
    PENDING = "PENDING"
    COMPILING = "COMPILING"
    READY = "READY"
    FAILED = "FAILED"


class ExecutionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Limits:
    timeout_ms: int
    memory_mb: int
    fuel: int

    def to_json(self) -> dict[str, int]:
        return {"timeoutMs": self.timeout_ms, "memoryMb": self.memory_mb, "fuel": self.fuel}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Limits:
        return cls(int(data["timeoutMs"]), int(data["memoryMb"]), int(data["fuel"]))


@dataclass(frozen=True)
class CompilationJob:
    function_id: str
    revision: int
    language: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "functionId": self.function_id,
            "revision": self.revision,
            "language": self.language,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompilationJob:
        return cls(
            function_id=str(data["functionId"]),
            revision=int(data["revision"]),
            language=str(data["language"]),
            source=str(data["source"]),
        )


@dataclass(frozen=True)
class CompilationResult:
    function_id: str
    revision: int
    success: bool
    wasm_binary: bytes | None = None
    error: str | None = None
    language: str | None = None  # lets the consumer warm a runner before READY

    def __post_init__(self) -> None:
        if self.success and self.wasm_binary is None:
            raise ValueError("a successful result carries a binary")
        if not self.success and not self.error:
            raise ValueError("a failed result carries an error")

    def to_json(self) -> dict[str, Any]:
        binary = base64.b64encode(self.wasm_binary).decode() if self.wasm_binary else None
        return {
            "functionId": self.function_id,
            "revision": self.revision,
            "success": self.success,
            "wasmBinary": binary,
            "error": self.error,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompilationResult:
        binary = data.get("wasmBinary")
        return cls(
            function_id=str(data["functionId"]),
            revision=int(data["revision"]),
            success=bool(data["success"]),
            wasm_binary=base64.b64decode(binary) if binary else None,
            error=data.get("error"),
            language=data.get("language"),
        )


class Outcome(StrEnum):
    """How one execution ended. The runner reports every outcome but the last; the
    platform reports `platform_error` when the call could not run or finish (no runner
    became free, the runner died or could not be reached)."""

    OK = "ok"
    EXCEPTION = "exception"
    TRAP = "trap"
    TIMEOUT = "timeout"
    FUEL_EXHAUSTED = "fuel_exhausted"
    MEMORY_LIMIT = "memory_limit"
    ABI_ERROR = "abi_error"
    INVALID_OUTPUT = "invalid_output"
    PLATFORM_ERROR = "platform_error"


@dataclass(frozen=True)
class ExecuteRequest:
    """Run the cached artifact `sha256` once on `input` (JSON text) under `limits`, with
    `env` as the function's environment (its revision's env and its secrets, SPEC §12);
    the values in `redact` (its secrets) never appear in the reply's logs or error. The
    runner keeps neither past the call and logs neither; the repr leaves both out."""

    sha256: str
    input: str
    limits: Limits
    env: dict[str, str] = field(default_factory=dict, repr=False)
    redact: tuple[str, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sha256": self.sha256,
            "input": self.input,
            "limits": self.limits.to_json(),
        }
        return {**data, **self._extras()}

    def _extras(self) -> dict[str, Any]:
        """Only when set: a call without env costs no bytes more on the wire."""
        extras: dict[str, Any] = {}
        if self.env:
            extras["env"] = self.env
        if self.redact:
            extras["redact"] = list(self.redact)
        return extras

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecuteRequest:
        return cls(
            str(data["sha256"]),
            str(data["input"]),
            Limits.from_json(data["limits"]),
            {str(k): str(v) for k, v in (data.get("env") or {}).items()},
            tuple(str(v) for v in data.get("redact") or ()),
        )

    def frame(self) -> tuple[dict[str, Any], bytes]:
        head = {"sha256": self.sha256, "limits": self.limits.to_json(), **self._extras()}
        return head, self.input.encode()

    @classmethod
    def from_frame(cls, head: dict[str, Any], body: bytes) -> ExecuteRequest:
        return cls.from_json({**head, "input": body.decode("utf-8")})


@dataclass(frozen=True)
class ExecuteReply:
    """What one call did: its outcome, the output (JSON text) when it is `ok`, else the
    error, and what it cost and printed."""

    outcome: Outcome
    output: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    fuel_used: int = 0
    logs: str | None = None  # what the function printed, already capped by the runner

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "output": self.output,
            "error": self.error,
            "durationMs": round(self.duration_ms, 3),
            "fuelUsed": self.fuel_used,
            "logs": self.logs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecuteReply:
        return cls(
            outcome=Outcome(data["outcome"]),
            output=data.get("output"),
            error=data.get("error"),
            duration_ms=float(data.get("durationMs") or 0),
            fuel_used=int(data.get("fuelUsed") or 0),
            logs=data.get("logs") or None,
        )

    def frame(self) -> tuple[dict[str, Any], bytes]:
        head = self.to_json()
        output = head.pop("output")
        head["hasOutput"] = output is not None
        return head, output.encode() if output is not None else b""

    @classmethod
    def from_frame(cls, head: dict[str, Any], body: bytes) -> ExecuteReply:
        output = body.decode("utf-8") if head.get("hasOutput") else None
        return cls.from_json({**head, "output": output})


@dataclass(frozen=True)
class RunnerHealth:
    """A runner's answer to a health request, given at any time (mid-call too): it
    serves; whether a call holds it now (`busy`: healthy, not free); whether it is
    draining (finishing its call before it exits, admitting none)."""

    status: str  # "UP" or "DRAINING"
    busy: bool
    pid: int  # the worker process running calls
    modules: int  # compiled modules held in memory
    calls: int = 0  # calls this worker ran to an outcome
    max_concurrent: int = 0  # the most calls (or loads) this worker ever had in flight at once
    upgrading: int = 0  # modules waiting for, or in, their background optimized compile

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "busy": self.busy,
            "pid": self.pid,
            "modules": self.modules,
            "calls": self.calls,
            "maxConcurrent": self.max_concurrent,
            "upgrading": self.upgrading,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunnerHealth:
        return cls(
            status=str(data["status"]),
            busy=bool(data["busy"]),
            pid=int(data["pid"]),
            modules=int(data.get("modules") or 0),
            calls=int(data.get("calls") or 0),
            max_concurrent=int(data.get("maxConcurrent") or 0),
            upgrading=int(data.get("upgrading") or 0),
        )
