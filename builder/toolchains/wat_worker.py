"""A warm WAT compiler speaking the same line protocol as asc_worker.mjs."""

from __future__ import annotations

import base64
import json
import sys

import wasmtime


def compile_one(request: dict) -> dict:
    try:
        wasm = wasmtime.wat2wasm(request["source"])
    except wasmtime.WasmtimeError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "wasm": base64.b64encode(bytes(wasm)).decode()}


def main() -> None:
    for line in sys.stdin:
        try:
            reply = compile_one(json.loads(line))
        except Exception as exc:  # a reply for every request, whatever happens
            reply = {"ok": False, "error": f"compiler error: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
