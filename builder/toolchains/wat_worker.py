"""A warm WAT compiler speaking the toolchains' line protocol; it confines itself to the
policy in its first argument once wasmtime is imported (it reads no file after that)."""

from __future__ import annotations

import sys
from pathlib import Path

import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from builder.sandbox.confine import Policy, enter
from builder.toolchains.worker_protocol import failed, ok, serve


def compile_one(request: dict) -> dict:
    try:
        return ok(bytes(wasmtime.wat2wasm(request["source"])))
    except wasmtime.WasmtimeError as exc:
        return failed(str(exc))


if __name__ == "__main__":
    wasmtime.wat2wasm("(module)")  # load everything the parser needs before confinement
    enter(Policy.from_json(sys.argv[1]))
    serve(compile_one)
