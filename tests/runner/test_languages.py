"""Python components and WASI modules (C, Zig) on the real toolchains, in-process:
outcomes, limits, captured output, and the ABI check of components."""

from __future__ import annotations

import hashlib
import json

import pytest
import wasmtime

from common.contracts import ExecuteRequest, Limits
from runner.executor import Executor
from runner.settings import Settings

LIMITS = Limits(timeout_ms=2000, memory_mb=64, fuel=20_000_000_000)

PYTHON = """\
import json


def handle(event):
    op = event["op"]
    if op == "echo":
        print("echo", json.dumps(event))
        return event
    if op == "burn":
        total = 0
        for i in range(10**9):
            total += i
        return {"total": total}
    if op == "hog":
        blocks = [bytearray(1024 * 1024) for _ in range(200)]
        return {"blocks": len(blocks)}
    if op == "nan":
        return {"x": float("nan")}
    if op == "recurse":
        def down(n):
            return down(n + 1)
        return down(0)
    raise RuntimeError("unknown op " + op)
"""

C = r"""#include <stdio.h>
#include "nil.h"

static int initialized;
__attribute__((constructor)) static void init(void) { initialized = 42; }

NIL_HANDLE uint64_t handle(const char *input, uint32_t len) {
    static char out[128];
    printf("partial line without newline");
    int n = snprintf(out, sizeof out, "{\"init\":%d,\"len\":%u,\"nul\":%d}", initialized, len,
                     input[len] == 0);
    return nil_output(out, (size_t)n);
}
"""

ZIG = """const std = @import("std");
const nil = @import("nil.zig");

comptime {
    _ = nil;
}

export fn handle(ptr: [*]const u8, len: u32) u64 {
    _ = ptr;
    var buffer: [64]u8 = undefined;
    const text = std.fmt.bufPrint(&buffer, "{{\\"len\\":{d}}}", .{len}) catch unreachable;
    const copy = nil.allocator.dupe(u8, text) catch @panic("oom");
    return nil.output(copy);
}
"""


@pytest.fixture(scope="module")
def executor():
    return Executor(Settings(optimize_in_background=False))  # every call on Winch


@pytest.fixture(scope="module")
def built(toolchains, executor):
    shas = {}
    for language, source in (("python", PYTHON), ("c", C), ("zig", ZIG)):
        output = toolchains[language].compile(source, timeout=180)
        assert output.ok, output.error
        sha = hashlib.sha256(output.wasm).hexdigest()
        executor.load_module(sha, language, output.wasm)
        shas[language] = sha
    return shas


def call(executor, sha, event, limits=LIMITS):
    return executor.execute(ExecuteRequest(sha, json.dumps(event), limits))


def test_python_echo_with_its_print_captured(executor, built):
    outcome = call(executor, built["python"], {"op": "echo", "x": [1, "é"]})
    assert outcome.outcome == "ok"
    assert json.loads(outcome.output) == {"op": "echo", "x": [1, "é"]}
    assert outcome.logs == 'echo {"op": "echo", "x": [1, "\\u00e9"]}\n'
    assert outcome.fuel_used > 0


def test_python_runs_out_of_fuel(executor, built):
    limits = Limits(timeout_ms=10_000, memory_mb=64, fuel=50_000_000)
    outcome = call(executor, built["python"], {"op": "burn"}, limits)
    assert outcome.outcome == "fuel_exhausted"
    assert outcome.fuel_used == 50_000_000


def test_python_is_stopped_by_the_deadline(executor, built):
    limits = Limits(timeout_ms=300, memory_mb=64, fuel=10**12)
    outcome = call(executor, built["python"], {"op": "burn"}, limits)
    assert outcome.outcome == "timeout"
    assert 300 <= outcome.duration_ms < 300 + 250


def test_python_memory_is_capped(executor, built):
    outcome = call(executor, built["python"], {"op": "hog"})
    assert outcome.outcome == "exception"
    assert outcome.error.endswith("MemoryError")


def test_python_output_must_be_json(executor, built):
    outcome = call(executor, built["python"], {"op": "nan"})
    assert outcome.outcome == "exception"
    assert "ValueError: Out of range float values are not JSON compliant" in outcome.error


def test_python_recursion_is_an_exception_not_a_crash(executor, built):
    outcome = call(executor, built["python"], {"op": "recurse"})
    assert outcome.outcome in {"exception", "trap"}
    assert "RecursionError" in outcome.error or "stack" in outcome.error
    assert call(executor, built["python"], {"op": "echo"}).outcome == "ok"


def test_c_reactor_runs_its_constructors_and_flushes_stdio(executor, built):
    outcome = call(executor, built["c"], {"k": 1})
    assert outcome.outcome == "ok"
    assert json.loads(outcome.output) == {"init": 42, "len": 8, "nul": 1}
    assert outcome.logs == "partial line without newline"


def test_zig_allocates_with_the_helper(executor, built):
    outcome = call(executor, built["zig"], {"k": 12})
    assert (outcome.outcome, json.loads(outcome.output)) == ("ok", {"len": 9})


def _component(text: str) -> tuple[str, bytes]:
    wasm = bytes(wasmtime.wat2wasm(text))
    return hashlib.sha256(wasm).hexdigest(), wasm


def test_a_component_without_the_world_s_handle_is_an_abi_error(executor):
    sha, wasm = _component(
        '(component (core module $m (func (export "f"))) (core instance $i (instantiate $m))'
        ' (func $f (canon lift (core func $i "f"))) (export "handle" (func $f)))'
    )
    executor.load_module(sha, "python", wasm)
    outcome = call(executor, sha, {})
    assert outcome.outcome == "abi_error"
    assert outcome.error == "ABI error: `handle` must be func(string) -> result<string, string>"


def test_a_core_module_is_not_accepted_as_a_python_component(executor):
    wasm = bytes(wasmtime.wat2wasm("(module)"))
    from runner.executor import ModuleRejected

    with pytest.raises(ModuleRejected, match="not a WebAssembly component"):
        executor.load_module(hashlib.sha256(wasm).hexdigest(), "python", wasm)
