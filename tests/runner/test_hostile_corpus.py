"""The hostile WebAssembly corpus: every module ends in a precise compile rejection or
a precise FAILED outcome, and the runner process keeps serving without leaking."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from builder.validate import validate_artifact
from common.contracts import ExecuteRequest, Limits
from common.runners import Runner
from tests.runner import wat

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
LIMITS = Limits(timeout_ms=500, memory_mb=64, fuel=5_000_000_000)
# Bulk memory is metered by the byte: a small budget makes the storm end on fuel
# (deterministic) rather than on the clock.
LIMITS_FOR = {"memory_fill_storm.wat": Limits(timeout_ms=5000, memory_mb=64, fuel=100_000_000)}

# file → ("compile", message fragment) | (outcome, error fragment)
EXPECTED = {
    "infinite_loop.wat": ("timeout", "time limit of 500 ms"),
    "start_loop.wat": ("timeout", "time limit of 500 ms"),
    "memory_grow_bomb.wat": ("memory_limit", "memory limit of 64 MB"),
    "huge_initial_memory.wat": ("memory_limit", "memory limit of 64 MB"),
    "data_segment_out_of_bounds.wat": ("trap", "wasm trap: memory out of bounds"),
    "deep_recursion.wat": ("trap", "call stack exhausted"),
    "table_growth.wat": ("trap", "wasm trap: unreachable"),
    "memory_fill_storm.wat": ("fuel_exhausted", "fuel budget of 100000000"),
    "output_100mb.wat": ("invalid_output", "larger than 6291456 bytes"),
    "invalid_utf8_output.wat": ("invalid_output", "not valid UTF-8"),
    "non_json_output.wat": ("invalid_output", "function returned invalid JSON"),
    "bad_alloc_pointer.wat": ("invalid_output", "alloc returned a pointer outside memory"),
    "many_functions.wat": ("ok", None),
    "unknown_import.wat": ("compile", "import `env.exec` is not provided"),
    "wasi_fd_write.wat": ("compile", "import `wasi_snapshot_preview1.fd_write` is not provided"),
    "shared_memory.wat": ("compile", "invalid WebAssembly"),
    "multi_memory.wat": ("compile", "invalid WebAssembly"),
    "many_locals.wat": ("compile", "invalid WebAssembly"),
    "missing_handle.wat": ("compile", "must export `handle`"),
    "wrong_handle_signature.wat": ("compile", "export `handle` must be a function"),
    "lone_surrogate.ts": ("invalid_output", "not valid UTF-16"),
    "abort_bad_pointer.ts": ("trap", "function aborted: <unreadable> (at <unreadable>:7:9)"),
}


def test_the_corpus_is_complete():
    files = {p.name for p in CORPUS.iterdir()}
    assert files == set(EXPECTED)
    assert len([f for f in files if f.endswith(".wat")]) >= 15


@pytest.fixture(scope="module")
def compiled(toolchains):
    """Every corpus file through the real compilers and the builder's checks."""
    results = {}
    for name in sorted(EXPECTED):
        language = "wat" if name.endswith(".wat") else "assemblyscript"
        output = toolchains[language].compile((CORPUS / name).read_text(), timeout=60)
        assert output.ok, f"{name}: {output.error}"
        results[name] = (language, output.wasm, validate_artifact(language, output.wasm))
    return results


@pytest.fixture(scope="module")
def runner(runner_dir) -> Runner:
    [sock, *_] = sorted(runner_dir.glob("*/runner.sock"))
    return Runner(f"unix:{sock}")


def run(runner: Runner, language: str, wasm: bytes, limits: Limits = LIMITS):
    request = ExecuteRequest(hashlib.sha256(wasm).hexdigest(), '{"x":1}', limits)
    return runner.run(request, language=language, load_module=lambda: wasm)


def rss_kb(runner: Runner) -> int:
    pid = runner.health().pid
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_hostile_module_ends_precisely(name, compiled, runner):
    language, wasm, rejection = compiled[name]
    expected, fragment = EXPECTED[name]
    if expected == "compile":
        assert rejection is not None and fragment in rejection, rejection
        return
    assert rejection is None, rejection
    result = run(runner, language, wasm, LIMITS_FOR.get(name, LIMITS))
    assert result.outcome == expected, (result.outcome, result.error)
    if fragment:
        assert fragment in result.error
    echo = bytes(__import__("wasmtime").wat2wasm(wat.ECHO))
    after = run(runner, "wat", echo)
    assert (after.outcome, after.output) == ("ok", '{"x":1}')


def test_the_runner_does_not_leak_across_rounds(compiled, runner):
    runnable = [
        (lang, wasm, LIMITS_FOR.get(name, LIMITS))
        for name, (lang, wasm, rejection) in compiled.items()
        if rejection is None
    ]
    for language, wasm, limits in runnable:  # warm-up: caches fill, allocator settles
        run(runner, language, wasm, limits)
    warmed = rss_kb(runner)
    for _ in range(3):
        for language, wasm, limits in runnable:
            run(runner, language, wasm, limits)
    assert rss_kb(runner) <= warmed * 1.2


def test_a_50_megabyte_module_is_refused(runner):
    from common.errors import RunnerFailed

    huge = b"\0asm\x01\0\0\0" + b"\0" * (50 * 1024 * 1024)
    with pytest.raises(RunnerFailed, match="runner rejected the module"):
        run(runner, "wat", huge)
    assert validate_artifact("wat", huge) == "the compiled module is larger than 33554432 bytes"
