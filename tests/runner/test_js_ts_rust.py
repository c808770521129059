"""JavaScript, TypeScript and Rust on the real toolchains and the runner's executor,
in-process: output, logs, thrown errors and panics with their place, the limits (fuel,
deadline, memory), and build errors with file:line:col."""

from __future__ import annotations

import hashlib
import json

import pytest

from common.contracts import ExecuteRequest, Limits
from runner.executor import Executor
from runner.settings import Settings

LIMITS = Limits(timeout_ms=5000, memory_mb=64, fuel=20_000_000_000)

JAVASCRIPT = """\
const TABLE = [1, 2, 3]; // computed at build time

function total(values) {
  return values.reduce((sum, v) => sum + v.x, 0);
}

export function handle(event) {
  switch (event.op) {
    case "echo":
      console.log("echo", event, TABLE.length);
      console.error("to stderr");
      return event;
    case "throw":
      return total([{ x: 1 }, undefined]);
    case "throw-value":
      throw { code: 42 };
    case "loop":
      for (;;) {}
    case "hog": {
      const blocks = [];
      for (let i = 0; i < 10000; i++) blocks.push(new Array(1 << 20).fill(i));
      return blocks.length;
    }
    case "undefined":
      return undefined;
    case "async":
      return Promise.resolve(1);
    case "unicode":
      console.log("héllo 🌍");
      return { s: "héllo 🌍" };
    case "long":
      console.log("x".repeat(10000));
      console.error("é".repeat(3000));
      return 1;
    case "random":
      return { a: Math.random(), b: KEPT(), c: BOUND(), built: DRAWN_AT_BUILD };
  }
  throw new Error("unknown op " + event.op);
}

const DRAWN_AT_BUILD = Math.random();
const KEPT = Math.random; // as a library keeps it at load time
const BOUND = Math.random.bind(Math);
"""

TYPESCRIPT = """\
interface Point {
  x: number;
  y: number;
}

function norm(p: Point): number {
  if (p.x < 0) {
    throw new RangeError(`negative x: ${p.x}`);
  }
  return Math.sqrt(p.x * p.x + p.y * p.y);
}

export function handle(event: NilEvent): NilJson {
  const p = event as unknown as Point;
  console.log("norm of", p);
  return { norm: norm(p) };
}
"""

RUST = """\
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, Serialize)]
struct Op {
    op: String,
    n: Option<u64>,
}

pub fn handle(event: Value) -> Result<Value, String> {
    let op: Op = serde_json::from_value(event.clone()).map_err(|e| e.to_string())?;
    match op.op.as_str() {
        "echo" => {
            println!("echo {}", event);
            eprintln!("to stderr");
            Ok(event)
        }
        "panic" => {
            let v: Vec<u64> = Vec::new();
            Ok(json!(v[op.n.unwrap_or(3) as usize]))
        }
        "err" => Err(format!("bad op {}", op.op)),
        "loop" => {
            let mut i: u64 = 0;
            loop {
                i = i.wrapping_add(op.n.unwrap_or(1));
                if i == u64::MAX {
                    return Ok(json!(i));
                }
            }
        }
        "hog" => {
            let mut blocks = Vec::new();
            for i in 0..10_000u64 {
                blocks.push(vec![i as u8; 1 << 20]);
            }
            Ok(json!(blocks.len()))
        }
        "files" => Ok(json!({
            "read": std::fs::read_to_string("/etc/passwd").is_ok(),
            "env": std::env::vars().count(),
        })),
        _ => Ok(serde_json::to_value(&op).map_err(|e| e.to_string())?),
    }
}
"""


@pytest.fixture(scope="module")
def executor():
    return Executor(Settings(optimize_in_background=False))  # every call on Winch


@pytest.fixture(scope="module")
def built(toolchains, executor):
    shas = {}
    for language, source in (
        ("javascript", JAVASCRIPT),
        ("typescript", TYPESCRIPT),
        ("rust", RUST),
    ):
        output = toolchains[language].compile(source, timeout=300)
        assert output.ok, output.error
        sha = hashlib.sha256(output.wasm).hexdigest()
        executor.load_module(sha, language, output.wasm)
        shas[language] = sha
    return shas


def call(executor, sha, event, limits=LIMITS):
    return executor.execute(ExecuteRequest(sha, json.dumps(event), limits))


def test_javascript_echo_with_console_captured(executor, built):
    outcome = call(executor, built["javascript"], {"op": "echo", "x": [1, "é"]})
    assert (outcome.outcome, json.loads(outcome.output)) == ("ok", {"op": "echo", "x": [1, "é"]})
    assert outcome.logs == 'echo {"op":"echo","x":[1,"é"]} 3\nto stderr\n'
    unicode = call(executor, built["javascript"], {"op": "unicode"})
    assert (json.loads(unicode.output), unicode.logs) == ({"s": "héllo 🌍"}, "héllo 🌍\n")


def test_math_random_differs_between_calls_though_the_engine_is_a_snapshot(executor, built):
    """QuickJS seeded Math.random at build time, inside the snapshot: every fresh
    instance would draw the same numbers. A call draws from the host's random source."""
    drawn = [
        json.loads(call(executor, built["javascript"], {"op": "random"}).output) for _ in "xyz"
    ]
    values = [d[k] for d in drawn for k in ("a", "b", "c")]  # b, c: references kept at build
    assert len(set(values)) == len(values), drawn
    assert all(0 <= v < 1 for v in values)
    assert len({d["built"] for d in drawn}) == 1  # what module code drew at build time stays


def test_long_console_lines_are_written_whole(executor, built):
    """WASI's blocking-write-and-flush takes 4096 bytes at most: longer lines go in pieces."""
    outcome = call(executor, built["javascript"], {"op": "long"})
    assert (outcome.outcome, outcome.output) == ("ok", "1"), outcome.error
    assert outcome.logs == "x" * 10000 + "\n" + "é" * 3000 + "\n"


def test_a_javascript_error_has_its_message_and_the_function_s_frames(executor, built):
    outcome = call(executor, built["javascript"], {"op": "throw"})
    assert outcome.outcome == "exception"
    lines = outcome.error.splitlines()
    assert lines[0] == "TypeError: cannot read property 'x' of undefined"
    assert all(line.startswith("    at ") and "function.js:" in line for line in lines[1:])
    assert "    at total (function.js:4:" in outcome.error
    assert "    at handle (function.js:14:" in outcome.error
    assert "entry.js" not in outcome.error


def test_a_thrown_non_error_is_reported_as_uncaught(executor, built):
    outcome = call(executor, built["javascript"], {"op": "throw-value"})
    assert (outcome.outcome, outcome.error) == ("exception", 'Uncaught {"code":42}')
    outcome = call(executor, built["javascript"], {"op": "nope"})
    assert outcome.error.startswith("Error: unknown op nope\n    at handle (function.js:38:")


def test_javascript_results_json_cannot_encode_are_failed(executor, built):
    outcome = call(executor, built["javascript"], {"op": "undefined"})
    assert outcome.outcome == "exception"
    assert outcome.error == "TypeError: handle returned a value JSON cannot encode"
    outcome = call(executor, built["javascript"], {"op": "async"})
    assert outcome.error == "TypeError: handle returned a Promise: handle must be synchronous"


@pytest.mark.parametrize("language", ["javascript", "rust"])
def test_a_loop_is_stopped_by_fuel_and_by_the_deadline(executor, built, language):
    fuel = Limits(timeout_ms=60_000, memory_mb=64, fuel=100_000_000)
    outcome = call(executor, built[language], {"op": "loop"}, fuel)
    assert (outcome.outcome, outcome.fuel_used) == ("fuel_exhausted", 100_000_000)
    deadline = Limits(timeout_ms=300, memory_mb=64, fuel=10**13)
    outcome = call(executor, built[language], {"op": "loop"}, deadline)
    assert outcome.outcome == "timeout"
    assert 300 <= outcome.duration_ms < 300 + 250
    assert call(executor, built[language], {"op": "echo"}).outcome == "ok"


def test_javascript_memory_is_capped(executor, built):
    outcome = call(executor, built["javascript"], {"op": "hog"})
    assert outcome.outcome in {"exception", "trap", "memory_limit"}
    assert "out of memory" in outcome.error or "memory limit" in outcome.error
    assert call(executor, built["javascript"], {"op": "echo"}).outcome == "ok"


def test_typescript_frames_point_into_function_ts(executor, built):
    ok = call(executor, built["typescript"], {"x": 3, "y": 4})
    assert (ok.outcome, json.loads(ok.output)) == ("ok", {"norm": 5})
    assert ok.logs == 'norm of {"x":3,"y":4}\n'
    outcome = call(executor, built["typescript"], {"x": -1, "y": 0})
    assert outcome.outcome == "exception"
    lines = outcome.error.splitlines()
    assert lines[0] == "RangeError: negative x: -1"
    assert lines[1].startswith("    at norm (function.ts:8:")
    assert lines[2].startswith("    at handle (function.ts:16:")
    assert len(lines) == 3


def test_rust_echo_with_its_prints_captured(executor, built):
    outcome = call(executor, built["rust"], {"op": "echo", "n": 1})
    assert (outcome.outcome, json.loads(outcome.output)) == ("ok", {"op": "echo", "n": 1})
    assert outcome.logs == 'echo {"n":1,"op":"echo"}\nto stderr\n'


def test_a_rust_panic_has_its_message_and_place(executor, built):
    outcome = call(executor, built["rust"], {"op": "panic", "n": 7})
    assert outcome.outcome == "trap"
    assert outcome.error == (
        "wasm trap: unreachable (stderr: panic: index out of bounds: the len is 0 but the"
        " index is 7 (at lib.rs:20:22))"
    )


def test_a_rust_err_is_failed_with_its_message(executor, built):
    outcome = call(executor, built["rust"], {"op": "err"})
    assert (outcome.outcome, outcome.error) == (
        "trap",
        "wasm trap: unreachable (stderr: error: bad op err)",
    )
    outcome = call(executor, built["rust"], {"nop": 1})
    assert outcome.error == "wasm trap: unreachable (stderr: error: missing field `op`)"


def test_rust_memory_is_capped_and_files_and_environment_are_absent(executor, built):
    outcome = call(executor, built["rust"], {"op": "hog"})
    assert (outcome.outcome, outcome.error) == (
        "trap",
        "wasm trap: unreachable (stderr: memory allocation of 1048576 bytes failed)",
    )
    outcome = call(executor, built["rust"], {"op": "files"})
    assert json.loads(outcome.output) == {"read": False, "env": 0}


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        (
            "javascript",
            "export function handle(event) {\n  return { a: 1 \n}\n",
            "function.js:4:1: ",
        ),
        ("javascript", "export function handle(event) {\n  return nope(;\n}\n", "function.js:2:"),
        (
            "javascript",
            "const x = 1;\nexport function other() {}\n",
            "must export a function handle",
        ),
        ("javascript", "export function handle(e) { return e; }\nnull.x;\n", "function.js:2:"),
        (
            "typescript",
            "export function handle(event: NilEvent): NilJson {\n  const n: number = event.a;\n"
            "  return n;\n}\n",
            "function.ts:2:9: error TS2322: Type 'NilJson' is not assignable to type 'number'.",
        ),
        (
            "typescript",
            "export function handle(event) {\n  return event;\n}\n",
            "function.ts:1:24: error TS7006: Parameter 'event' implicitly has an 'any' type.",
        ),
        (
            "typescript",
            'import { x } from "./other";\nexport function handle(e: NilEvent) { return x; }\n',
            "function.ts:1:19: error TS2307: Cannot find module './other'",
        ),
        (
            "rust",
            "pub fn handle(event: serde_json::Value) -> Result<serde_json::Value, String> {\n"
            "    Ok(evnt)\n}\n",
            "error[E0425]: cannot find value `evnt` in this scope\n --> lib.rs:2:8",
        ),
        (
            "rust",
            "pub fn handle(event: i32) -> i32 { event }\n",
            "expected enum `Value`, found `i32`",
        ),
    ],
    ids=[
        "js-syntax",
        "js-syntax-2",
        "js-no-handle",
        "js-top-level-throw",
        "ts-type",
        "ts-implicit-any",
        "ts-import",
        "rust-name",
        "rust-signature",
    ],
)
def test_build_errors_name_the_place(toolchains, language, source, expected):
    output = toolchains[language].compile(source, timeout=120)
    assert not output.ok
    assert expected in output.error, output.error
    for marker in ("/tmp/", "/var/cache", "site-packages", "node_modules", "/work/"):
        assert marker not in output.error, output.error
