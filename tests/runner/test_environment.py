"""A function's environment (SPEC §12) on the real toolchains, in-process: env and
secrets reach C, Zig and Python as WASI environment and AssemblyScript through its
`nil.getenv` import; a call never sees another call's environment; secret values are
redacted from logs and errors (also across the log cap) while the output is returned
as produced."""

from __future__ import annotations

import hashlib
import json

import pytest

from common.contracts import ExecuteRequest, Limits
from runner.executor import Executor
from runner.settings import Settings

LIMITS = Limits(timeout_ms=5000, memory_mb=64, fuel=20_000_000_000)
ENV = {"GREETING": "hello", "TOKEN": "s3cr3t-token-value"}

PYTHON = """\
import os


def handle(event):
    if event.get("op") == "leak":
        print("token is", os.environ.get("TOKEN"))
        raise RuntimeError("bad token " + str(os.environ.get("TOKEN")))
    return {"greeting": os.environ.get("GREETING"), "token": os.getenv("TOKEN")}
"""

C = r"""#include <stdio.h>
#include <stdlib.h>
#include "nil.h"

NIL_HANDLE uint64_t handle(const char *input, uint32_t len) {
    static char out[512];
    const char *greeting = getenv("GREETING"), *token = getenv("TOKEN");
    if (len > 2 && input[2] == 'l') {  /* {"leak":...}: print it, then die with it */
        printf("token=%s\n", token);
        fprintf(stderr, "fatal: token %s rejected\n", token);
        abort();
    }
    int n = snprintf(out, sizeof out, "{\"greeting\":\"%s\",\"token\":\"%s\"}",
                     greeting ? greeting : "", token ? token : "");
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
    _ = len;
    const environ: std.process.Environ = .{ .block = .global };
    const greeting = environ.getAlloc(nil.allocator, "GREETING") catch "";
    const token = environ.getAlloc(nil.allocator, "TOKEN") catch "";
    const text = std.fmt.allocPrint(
        nil.allocator,
        "{{\\"greeting\\":\\"{s}\\",\\"token\\":\\"{s}\\"}}",
        .{ greeting, token },
    ) catch @panic("oom");
    return nil.output(text);
}
"""

ASSEMBLYSCRIPT = """\
@external("env", "nil.getenv")
declare function getenv(name: string): string | null;

export function handle(input: string): string {
  const greeting = getenv("GREETING");
  const token = getenv("TOKEN");
  if (input.includes("leak")) console.log("token=" + (token || ""));
  return '{"greeting":"' + (greeting || "") + '","token":"' + (token || "") + '"}';
}
"""

SOURCES = {"python": PYTHON, "c": C, "zig": ZIG, "assemblyscript": ASSEMBLYSCRIPT}


@pytest.fixture(scope="module")
def executor():
    return Executor(Settings(optimize_in_background=False))  # every call on Winch


@pytest.fixture(scope="module")
def built(toolchains, executor):
    shas = {}
    for language, source in SOURCES.items():
        output = toolchains[language].compile(source, timeout=180)
        assert output.ok, output.error
        sha = hashlib.sha256(output.wasm).hexdigest()
        executor.load_module(sha, language, output.wasm)
        shas[language] = sha
    return shas


def call(executor, sha, event, env=None, redact=()):
    request = ExecuteRequest(sha, json.dumps(event), LIMITS, env or {}, tuple(redact))
    return executor.execute(request)


@pytest.mark.parametrize("language", list(SOURCES))
def test_env_and_secrets_reach_the_function(executor, built, language):
    reply = call(executor, built[language], {}, ENV, [ENV["TOKEN"]])
    assert reply.outcome == "ok", reply.error
    assert json.loads(reply.output) == {"greeting": "hello", "token": ENV["TOKEN"]}


@pytest.mark.parametrize("language", list(SOURCES))
def test_a_call_never_sees_another_calls_environment(executor, built, language):
    assert call(executor, built[language], {}, ENV).outcome == "ok"
    reply = call(executor, built[language], {}, {"GREETING": "other"})
    assert json.loads(reply.output) == {"greeting": "other", "token": ""} or json.loads(
        reply.output
    ) == {"greeting": "other", "token": None}
    bare = call(executor, built[language], {})
    assert json.loads(bare.output)["greeting"] in ("", None)


def test_python_secrets_are_redacted_from_logs_and_the_exception(executor, built):
    reply = call(executor, built["python"], {"op": "leak"}, ENV, [ENV["TOKEN"]])
    assert reply.outcome == "exception"
    assert ENV["TOKEN"] not in reply.error and "[redacted]" in reply.error
    assert reply.logs == "token is [redacted]\n"


def test_c_secrets_are_redacted_from_logs_and_the_trap_message(executor, built):
    reply = call(executor, built["c"], {"leak": 1}, ENV, [ENV["TOKEN"]])
    assert reply.outcome == "trap"
    assert ENV["TOKEN"] not in reply.error and ENV["TOKEN"] not in reply.logs
    assert "(stderr: fatal: token [redacted] rejected)" in reply.error
    assert "token=[redacted]" in reply.logs


def test_assemblyscript_console_output_is_redacted(executor, built):
    reply = call(executor, built["assemblyscript"], {"op": "leak"}, ENV, [ENV["TOKEN"]])
    assert reply.outcome == "ok"
    assert reply.logs == "token=[redacted]\n"
    assert ENV["TOKEN"] in reply.output  # outputs are returned as produced


def test_two_functions_on_one_runner_never_see_each_others_environment(toolchains, executor, built):
    other = toolchains["c"].compile(C + "\n/* another function */\n", timeout=180)
    assert other.ok, other.error
    other_sha = hashlib.sha256(other.wasm).hexdigest()
    executor.load_module(other_sha, "c", other.wasm)
    for _ in range(2):
        mine = call(executor, built["c"], {}, ENV, [ENV["TOKEN"]])
        assert json.loads(mine.output) == {"greeting": "hello", "token": ENV["TOKEN"]}
        theirs = call(executor, other_sha, {}, {"GREETING": "theirs"})
        assert json.loads(theirs.output) == {"greeting": "theirs", "token": ""}
        python = call(executor, built["python"], {})
        assert json.loads(python.output) == {"greeting": None, "token": None}
        script = call(executor, built["assemblyscript"], {})
        assert json.loads(script.output) == {"greeting": "", "token": ""}
