"""A compiled module is published only if it parses and follows its language's ABI."""

from __future__ import annotations

import wasmtime

from common.abi import ABI_BY_LANGUAGE, AbiError, check_module, engine_config

_ENGINE = wasmtime.Engine(engine_config())
MAX_MODULE_BYTES = 16 * 1024 * 1024  # what a runner accepts (runner/settings.py)


def validate_artifact(language: str, wasm: bytes) -> str | None:
    """None when the module is acceptable, else the reason for the user."""
    if not wasm.startswith(b"\0asm"):
        return "the compiler produced no WebAssembly module"
    if len(wasm) > MAX_MODULE_BYTES:
        return f"the compiled module is larger than {MAX_MODULE_BYTES} bytes"
    try:
        wasmtime.Module.validate(_ENGINE, wasm)
        module = wasmtime.Module(_ENGINE, wasm)
    except wasmtime.WasmtimeError as exc:
        return f"invalid WebAssembly: {_last_cause(str(exc))}"
    try:
        check_module(module, ABI_BY_LANGUAGE[language])
    except AbiError as exc:
        return f"ABI error: {exc}"
    return None


def _last_cause(message: str) -> str:
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else message
    return last.split(": ", 1)[-1] if last[:1].isdigit() else last
