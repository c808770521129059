"""JavaScript, TypeScript and Rust end to end, through the real gateway, builder, consumer
and runners: outputs and logs, thrown errors and panics with their place, timeouts and
fuel, build errors with file:line:col, the first execution after READY served warm, and
the metrics labelled with each language."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_observability import samples, scrape_text, value

SOURCES = {
    "javascript": """\
export function handle(event) {
  if (event.op === "loop") for (;;) {}
  if (event.op === "throw") throw new Error("no " + event.what);
  if (event.op === "files") return { require: typeof require, fetch: typeof fetch };
  console.log("js got", event.n);
  return { doubled: event.n * 2 };
}
""",
    "typescript": """\
type Input = { op?: string; n: number; what?: string };

export function handle(event: NilEvent): NilJson {
  const input = event as unknown as Input;
  if (input.op === "loop") for (;;) {}
  if (input.op === "throw") throw new Error(`no ${input.what}`);
  console.log("ts got", input.n);
  return { doubled: input.n * 2 };
}
""",
    "rust": """\
use serde_json::{json, Value};

pub fn handle(event: Value) -> Result<Value, String> {
    let op = event["op"].as_str().unwrap_or("");
    if op == "loop" {
        let mut n: u64 = 0;
        while n != u64::MAX { n = n.wrapping_add(event["n"].as_u64().unwrap_or(1)); }
    }
    if op == "throw" {
        panic!("no {}", event["what"]);
    }
    let n = event["n"].as_i64().ok_or("n must be an integer")?;
    println!("rust got {}", n);
    Ok(json!({ "doubled": n * 2 }))
}
""",
}
THROW_PLACE = {
    "javascript": "Error: no thing\n    at handle (function.js:3:",
    "typescript": "Error: no thing\n    at handle (function.ts:6:",
    "rust": 'wasm trap: unreachable (stderr: panic: no "thing" (at lib.rs:10:9))',
}
LIMITS = {"timeoutMs": 500, "fuel": 100_000_000_000, "memoryMb": 64}


def register(api, name, language, source, **extra):
    response = api.post(
        "/functions", json={"name": name, "language": language, "source": source, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def run(api, fid, event, **extra):
    response = api.post(f"/functions/{fid}/execute", json={"input": event, **extra})
    assert response.status_code == 200, response.text
    return response.json()


MISSES = "nil_runner_module_cache_misses_total"


def misses(platform) -> float:
    """The runners' module-cache misses, from a scrape every runner answered: the
    supervisor leaves out a runner that does not answer its read within 2 s (busy,
    on a loaded machine, compiling a new module in the background), and its misses
    with it (a CI run saw the sum drop from 5 to 4 across one call)."""
    deadline = time.monotonic() + 30
    while True:
        text = scrape_text(platform)["runner"]
        answered = {
            s.labels.get("runner")
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == MISSES
        }
        if len(answered) == platform.runners or time.monotonic() > deadline:
            return value(samples(text), MISSES)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def functions(api):
    ids = {}
    for language, source in SOURCES.items():
        ids[language] = register(api, f"{language}-behaviours", language, source, limits=LIMITS)
        low_fuel = {**LIMITS, "fuel": 50_000_000}
        ids[f"{language}-fuel"] = register(
            api, f"{language}-fuel", language, source + "// low fuel\n", limits=low_fuel
        )
    for language, fid in ids.items():
        fn = api.wait_for_status(fid, {"READY", "FAILED"}, timeout=240)
        assert fn["status"] == "READY", (language, fn["compileError"])
    return ids


@pytest.mark.parametrize("language", list(SOURCES))
def test_the_first_execution_after_ready_is_served_warm(api, platform, language):
    source = SOURCES[language] + f"// first execution {time.monotonic_ns()}\n"
    fid = register(api, f"{language}-warm", language, source, limits=LIMITS)
    assert api.wait_for_status(fid, {"READY", "FAILED"}, timeout=240)["status"] == "READY"
    before = misses(platform)
    body = run(api, fid, {"n": 21})
    assert (body["status"], body["output"]) == ("COMPLETED", {"doubled": 42})
    assert misses(platform) == before  # the runner already held the compiled module


@pytest.mark.parametrize("language", list(SOURCES))
def test_output_and_logs(api, functions, language):
    body = run(api, functions[language], {"n": 4})
    assert (body["status"], body["output"]) == ("COMPLETED", {"doubled": 8})
    logs = api.get(f"/executions/{body['id']}").json()["logs"]
    assert logs == {"javascript": "js", "typescript": "ts", "rust": "rust"}[language] + " got 4\n"


@pytest.mark.parametrize("language", list(SOURCES))
def test_a_thrown_error_or_panic_is_failed_with_its_message_and_place(api, functions, language):
    body = run(api, functions[language], {"op": "throw", "what": "thing", "n": 1})
    assert body["status"] == "FAILED"
    assert body["errorMessage"].startswith(THROW_PLACE[language]), body["errorMessage"]


@pytest.mark.parametrize("language", list(SOURCES))
def test_a_loop_is_stopped_by_the_timeout_and_by_fuel(api, functions, language):
    body = run(api, functions[language], {"op": "loop", "n": 1})
    assert (body["status"], body["errorMessage"]) == (
        "FAILED",
        "function exceeded its time limit of 500 ms",
    )
    body = run(api, functions[f"{language}-fuel"], {"op": "loop", "n": 1})
    assert (body["status"], body["errorMessage"]) == (
        "FAILED",
        "function exhausted its fuel budget of 50000000",
    )


def test_javascript_has_no_require_and_no_fetch(api, functions):
    body = run(api, functions["javascript"], {"op": "files"})
    assert body["output"] == {"require": "undefined", "fetch": "undefined"}


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        ("javascript", "export function handle(e) {\n  return e +;\n}\n", "function.js:2:"),
        (
            "typescript",
            "export function handle(event: NilEvent): NilJson {\n  return event.a.b;\n}\n",
            "function.ts:2:",
        ),
        (
            "rust",
            "pub fn handle(e: serde_json::Value) -> Result<serde_json::Value, String> {\n"
            "    Ok(e.missing())\n}\n",
            "--> lib.rs:2:10",
        ),
    ],
    ids=["javascript", "typescript", "rust"],
)
def test_build_errors_name_the_place(api, language, source, expected):
    fid = register(api, f"broken-{language}", language, source)
    fn = api.wait_for_status(fid, {"READY", "FAILED"}, timeout=240)
    assert fn["status"] == "FAILED"
    assert expected in fn["compileError"], fn["compileError"]


def test_metrics_are_labelled_with_the_new_languages(api, platform, functions):
    # a runner's counters live in its worker process, which a watchdog replacement after
    # the loop tests above starts afresh: one more call of each lands on the current one
    for language in SOURCES:
        assert run(api, functions[language], {"n": 1})["status"] == "COMPLETED"
    texts = {k: samples(v) for k, v in scrape_text(platform).items()}
    for language in SOURCES:
        assert value(
            texts["builder"], "nil_builder_jobs_total", language=language, outcome="success"
        )
        assert value(
            texts["runner"], "nil_runner_executions_total", language=language, outcome="ok"
        )
