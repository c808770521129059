"""`python -m runner.compile_child <kind> <max_wasm_stack> [<tier> [background]]`: compile
the WebAssembly on stdin with the runner's engine settings (on `tier`: runner/engine.py)
and write the serialized artifact to stdout.

Compiling a Python component takes ~400 MB that the allocator keeps after the compile;
in a child process, that memory goes back to the system when the child exits, and the
runner only deserializes the result (~40 MB). A background compile (the optimized tier
of a component already running on the baseline tier) runs at a lower CPU priority, so
the runner's calls come first.
"""

from __future__ import annotations

import os
import sys

from runner.engine import OPTIMIZED, make_engine


def compile_serialized(kind: str, max_wasm_stack: int, wasm: bytes, tier: str = OPTIMIZED) -> bytes:
    engine = make_engine(max_wasm_stack, component_model=kind == "component", tier=tier)
    if kind == "component":
        from wasmtime.component import Component

        return bytes(Component(engine, wasm).serialize())
    import wasmtime

    return bytes(wasmtime.Module(engine, wasm).serialize())


def main() -> int:
    kind, max_wasm_stack = sys.argv[1], int(sys.argv[2])
    tier = sys.argv[3] if len(sys.argv) > 3 else OPTIMIZED
    if "background" in sys.argv[4:]:
        os.nice(10)
    try:
        data = compile_serialized(kind, max_wasm_stack, sys.stdin.buffer.read(), tier)
    except Exception as exc:  # the reason goes to the parent on stderr
        print(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc), file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
