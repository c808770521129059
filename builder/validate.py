"""A compiled artifact is published only if it parses and follows its language's ABI."""

from __future__ import annotations

import wasmtime

from common.abi import ABI_BY_LANGUAGE, COMPONENT_PREAMBLE, MODULE_PREAMBLE, AbiError
from common.contracts import MAX_MODULE_BYTES
from common.wasm import check_module, engine_config

_ENGINE = wasmtime.Engine(engine_config())


def validate_artifact(language: str, wasm: bytes) -> str | None:
    """None when the artifact is acceptable, else the reason for the user."""
    abi = ABI_BY_LANGUAGE[language]
    if len(wasm) > MAX_MODULE_BYTES:
        return f"the compiled {abi.kind} is larger than {MAX_MODULE_BYTES} bytes"
    if abi.kind == "component":
        # Compiling a component to check it costs seconds; the runner checks its export
        # when it compiles it. Here: it is a component, from our own toolchain.
        if not wasm.startswith(COMPONENT_PREAMBLE):
            return "the compiler produced no WebAssembly component"
        return None
    if not wasm.startswith(MODULE_PREAMBLE):
        return "the compiler produced no WebAssembly module"
    try:
        wasmtime.Module.validate(_ENGINE, wasm)
        module = wasmtime.Module(_ENGINE, wasm)
    except wasmtime.WasmtimeError as exc:
        return f"invalid WebAssembly: {_last_cause(str(exc))}"
    try:
        check_module(module, abi)
    except AbiError as exc:
        return f"ABI error: {exc}"
    return None


def problem_kind(problem: str) -> str:
    """The builder's outcome label for a refused artifact: `abi_error` when it is valid
    WebAssembly that misses its language's ABI, `invalid_wasm` for anything else."""
    return "abi_error" if problem.startswith("ABI error") else "invalid_wasm"


def _last_cause(message: str) -> str:
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else message
    return last.split(": ", 1)[-1] if last[:1].isdigit() else last
