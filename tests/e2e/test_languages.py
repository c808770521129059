"""Python, C and Zig end to end: errors, traps, limits, sandboxing and captured logs,
through the real gateway, builder, consumer and runners."""

from __future__ import annotations

import pytest

LOG_CAP = 64 * 1024

PYTHON_SOURCE = """\
import os
import sys


def handle(event):
    op = event["op"]
    if op == "divide":
        return {"q": event["a"] / event["b"]}
    if op == "loop":
        while True:
            pass
    if op == "open":
        with open(event["path"]) as file:
            return {"data": file.read()}
    if op == "socket":
        import socket

        with socket.socket() as connection:
            connection.connect(("127.0.0.1", event["port"]))
        return {"connected": True}
    if op == "environment":
        return {"environ": dict(os.environ), "argv": sys.argv}
    if op == "print":
        print("to stdout", event["n"])
        print("to stderr", file=sys.stderr)
        return {"printed": True}
    if op == "flood":
        for i in range(10_000):
            print(i, "x" * 20)
        return {"flooded": True}
    if op == "unserializable":
        return {"set": {1, 2}}
    raise ValueError(f"unknown op {op!r}")
"""

C_SOURCE = r"""#include <stdio.h>
#include <string.h>
#include "nil.h"

NIL_HANDLE uint64_t handle(const char *input, uint32_t len) {
    if (strstr(input, "\"trap\"")) {
        fprintf(stderr, "about to trap\n");
        __builtin_trap();
    }
    if (strstr(input, "\"flood\"")) {
        for (int i = 0; i < 10000; i++) printf("%d xxxxxxxxxxxxxxxxxxxx\n", i);
    }
    if (strstr(input, "\"open\"")) {
        FILE *file = fopen("/etc/passwd", "r");
        printf("fopen %s\n", file ? "succeeded" : "failed");
    }
    printf("hello from C, %u bytes\n", len);
    return nil_output_str("{\"done\":true}");
}
"""

ZIG_SOURCE = """const std = @import("std");
const nil = @import("nil.zig");

comptime {
    _ = nil;
}

export fn handle(ptr: [*]const u8, len: u32) u64 {
    const input = nil.input(ptr, len);
    std.debug.print("zig saw {d} bytes\\n", .{len});
    if (std.mem.indexOf(u8, input, "\\"panic\\"") != null) @panic("asked to panic");
    return nil.output("{\\"done\\":true}");
}
"""


def register(api, name, language, source, **extra):
    response = api.post(
        "/functions", json={"name": name, "language": language, "source": source, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def settled(api, fid):
    return api.wait_for_status(fid, {"READY", "FAILED"}, timeout=240)


def run(api, fid, event):
    response = api.post(f"/functions/{fid}/execute", json={"input": event})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def functions(api):
    limits = {"timeoutMs": 500, "fuel": 200_000_000_000, "memoryMb": 64}
    ids = {
        "python": register(api, "py-behaviours", "python", PYTHON_SOURCE, limits=limits),
        "c": register(api, "c-behaviours", "c", C_SOURCE),
        "zig": register(api, "zig-behaviours", "zig", ZIG_SOURCE),
    }
    for language, fid in ids.items():
        fn = settled(api, fid)
        assert fn["status"] == "READY", (language, fn["compileError"])
    return ids


def test_a_python_exception_is_failed_with_its_type_message_and_own_frames(api, functions):
    body = run(api, functions["python"], {"op": "divide", "a": 1, "b": 0})
    assert body["status"] == "FAILED"
    error = body["errorMessage"]
    assert error.endswith("ZeroDivisionError: division by zero")
    assert 'File "function.py", line 8, in handle' in error
    assert 'return {"q": event["a"] / event["b"]}' in error
    assert "nil_entry" not in error and "/0/" not in error


def test_a_python_result_json_cannot_encode_is_failed(api, functions):
    body = run(api, functions["python"], {"op": "unserializable"})
    assert body["status"] == "FAILED"
    assert "TypeError: Object of type set is not JSON serializable" in body["errorMessage"]


def test_a_python_loop_is_stopped_by_the_timeout(api, functions):
    body = run(api, functions["python"], {"op": "loop"})
    assert body["status"] == "FAILED"
    assert body["errorMessage"] == "function exceeded its time limit of 500 ms"
    assert 500 <= body["durationMs"] < 500 + 300


def test_a_python_function_cannot_open_files(api, functions):
    body = run(api, functions["python"], {"op": "open", "path": "/etc/passwd"})
    assert body["status"] == "FAILED"
    assert "FileNotFoundError" in body["errorMessage"]


def test_a_python_function_cannot_open_sockets(api, functions, platform):
    body = run(api, functions["python"], {"op": "socket", "port": platform.port})
    assert body["status"] == "FAILED"
    assert "PermissionError" in body["errorMessage"]


def test_a_python_function_sees_no_environment(api, functions):
    body = run(api, functions["python"], {"op": "environment"})
    assert body["status"] == "COMPLETED"
    assert body["output"]["environ"] == {}


def test_python_prints_are_the_execution_logs(api, functions):
    body = run(api, functions["python"], {"op": "print", "n": 7})
    assert (body["status"], body["output"]) == ("COMPLETED", {"printed": True})
    assert body["logs"] == "to stdout 7\nto stderr\n"
    stored = api.get(f"/executions/{body['id']}").json()
    assert stored["logs"] == "to stdout 7\nto stderr\n"


@pytest.mark.parametrize("language", ["python", "c"])
def test_logs_are_capped_with_a_marker(api, functions, language):
    body = run(api, functions[language], {"op": "flood"})
    assert body["status"] == "COMPLETED", body["errorMessage"]
    logs = api.get(f"/executions/{body['id']}").json()["logs"]
    assert logs.endswith("\n[logs truncated]")
    assert len(logs.encode()) == LOG_CAP + len("\n[logs truncated]")
    assert logs.startswith("0 xxxx")


def test_a_c_trap_is_failed_with_what_it_printed(api, functions):
    body = run(api, functions["c"], {"op": "trap"})
    assert body["status"] == "FAILED"
    assert body["errorMessage"] == "wasm trap: unreachable (stderr: about to trap)"
    assert body["logs"] == "about to trap\n"


def test_c_printf_is_logged_and_files_are_not_there(api, functions):
    body = run(api, functions["c"], {"op": "open"})
    assert (body["status"], body["output"]) == ("COMPLETED", {"done": True})
    assert body["logs"] == "fopen failed\nhello from C, 13 bytes\n"


def test_a_zig_panic_is_failed_with_its_message(api, functions):
    ok = run(api, functions["zig"], {"op": "fine"})
    assert (ok["output"], ok["logs"]) == ({"done": True}, "zig saw 13 bytes\n")
    body = run(api, functions["zig"], {"op": "panic"})
    assert body["status"] == "FAILED"
    assert body["errorMessage"].startswith("wasm trap: unreachable (stderr: panic: asked to panic")


def test_assemblyscript_console_output_is_logged(api):
    source = (
        "export function handle(input: string): string {\n"
        '  console.log("got " + input);\n  return input;\n}\n'
    )
    fid = register(api, "as-console", "assemblyscript", source)
    assert settled(api, fid)["status"] == "READY"
    body = run(api, fid, {"k": 1})
    assert api.get(f"/executions/{body['id']}").json()["logs"] == 'got {"k":1}\n'


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        ("c", "int handle(void) {\n  return undefined_name;\n}\n", "function.c:2:10: error:"),
        ("zig", "export fn handle() u64 {\n    return nope;\n}\n", "function.zig:2:12: error:"),
        ("python", "def handle(event)\n    return event\n", 'File "function.py", line 1'),
        (
            "python",
            "import requests\n\ndef handle(event):\n    return event\n",
            "line 1: ModuleNotFoundError: No module named 'requests'",
        ),
        ("python", "def other(event):\n    return event\n", "must define a function handle"),
    ],
    ids=["c-syntax", "zig-syntax", "python-syntax", "python-package", "python-no-handle"],
)
def test_build_errors_name_the_place(api, language, source, expected):
    fid = register(api, f"broken-{language}", language, source)
    fn = settled(api, fid)
    assert fn["status"] == "FAILED"
    assert expected in fn["compileError"], fn["compileError"]
