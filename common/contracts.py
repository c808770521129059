"""Records that cross service boundaries: statuses, limits, queue messages."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JOBS_QUEUE = "compilation_jobs"
RESULTS_QUEUE = "compilation_results"

# The languages the platform accepts: the one list the gateway reads. A language is
# added by a builder toolchain (builder/toolchains), its ABI in common/abi.py and,
# where that ABI is new, a runner adapter (runner/abis). tests/unit/test_languages.py
# checks the three agree.
LANGUAGES = ("assemblyscript", "wat", "python", "c", "zig")


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
