"""Every way a call can end, in-process on the real wasmtime, each followed by a good call."""

import hashlib
import time

import pytest
import wasmtime

from common.contracts import ExecuteRequest, Limits
from runner.executor import Executor, ModuleRejected
from runner.settings import Settings
from tests.runner import wat

LIMITS = Limits(timeout_ms=1000, memory_mb=16, fuel=50_000_000)


@pytest.fixture(scope="module")
def executor():
    return Executor(Settings())


def load(executor, text: str, language: str = "wat") -> str:
    wasm = bytes(wasmtime.wat2wasm(text))
    sha = hashlib.sha256(wasm).hexdigest()
    executor.load_module(sha, language, wasm)
    return sha


def run(executor, text, input_text='{"a":1}', limits=LIMITS):
    return executor.execute(ExecuteRequest(load(executor, text), input_text, limits))


@pytest.fixture(autouse=True)
def still_serves(executor):
    yield
    outcome = run(executor, wat.ECHO, '{"after":true}')
    assert (outcome.outcome, outcome.output) == ("ok", '{"after":true}')


def test_echo_returns_its_input_with_duration_and_fuel(executor):
    outcome = run(executor, wat.ECHO, '{"name":"nil"}')
    assert (outcome.outcome, outcome.output, outcome.error) == ("ok", '{"name":"nil"}', None)
    assert outcome.duration_ms > 0 and outcome.fuel_used > 0


def test_infinite_loop_times_out_within_the_limit(executor):
    limits = Limits(timeout_ms=300, memory_mb=16, fuel=10**15)
    started = time.perf_counter()
    outcome = run(executor, wat.INFINITE_LOOP, limits=limits)
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert outcome.outcome == "timeout"
    assert outcome.error == "function exceeded its time limit of 300 ms"
    assert 300 <= elapsed_ms <= 300 + 250


def test_a_looping_start_function_is_stopped_too(executor):
    limits = Limits(timeout_ms=200, memory_mb=16, fuel=10**15)
    outcome = run(executor, wat.START_LOOP, limits=limits)
    assert outcome.outcome == "timeout"


def test_fuel_exhaustion(executor):
    limits = Limits(timeout_ms=10_000, memory_mb=16, fuel=100_000)
    outcome = run(executor, wat.BUSY_LOOP, limits=limits)
    assert outcome.outcome == "fuel_exhausted"
    assert outcome.error == "function exhausted its fuel budget of 100000"
    assert outcome.fuel_used == 100_000


def test_memory_grow_bomb_hits_the_memory_limit(executor):
    outcome = run(executor, wat.MEMORY_BOMB)
    assert outcome.outcome == "memory_limit"
    assert outcome.error == "function exceeded its memory limit of 16 MB"


def test_initial_memory_above_the_limit(executor):
    outcome = run(executor, wat.raw_module("(i64.const 0)", memory="1000"))
    assert outcome.outcome == "memory_limit"


def test_deep_recursion_is_a_trap_not_a_crash(executor):
    outcome = run(executor, wat.DEEP_RECURSION)
    assert outcome.outcome == "trap"
    assert outcome.error == "wasm trap: call stack exhausted (recursion too deep)"


@pytest.mark.parametrize(
    "module, message",
    [
        (wat.UNREACHABLE, "wasm trap: unreachable"),
        (wat.DIVIDE_BY_ZERO, "wasm trap: integer division by zero"),
    ],
)
def test_traps_name_their_cause(executor, module, message):
    outcome = run(executor, module)
    assert (outcome.outcome, outcome.error) == ("trap", message)


def test_missing_handle_is_an_abi_error(executor):
    outcome = run(executor, wat.NO_HANDLE)
    assert (outcome.outcome, outcome.error) == (
        "abi_error",
        "ABI error: the module must export `handle`",
    )


def test_unknown_host_import_is_an_abi_error(executor):
    outcome = run(executor, wat.UNKNOWN_IMPORT)
    assert outcome.outcome == "abi_error"
    assert "import `env.exec` is not provided" in outcome.error


def test_output_that_is_not_json(executor):
    outcome = run(executor, wat.NOT_JSON)
    assert (outcome.outcome, outcome.error) == ("invalid_output", "function returned invalid JSON")


def test_output_that_is_not_utf8(executor):
    outcome = run(executor, wat.INVALID_UTF8)
    assert (outcome.outcome, outcome.error) == (
        "invalid_output",
        "invalid output: output is not valid UTF-8",
    )


def test_ten_megabyte_output_is_refused(executor):
    outcome = run(executor, wat.TEN_MB_OUTPUT, limits=Limits(1000, 64, 10**9))
    assert outcome.outcome == "invalid_output"
    assert outcome.error == "invalid output: output is larger than 6291456 bytes"


def test_a_cache_hit_never_compiles(executor, monkeypatch):
    sha = load(executor, wat.ECHO)

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled on a cache hit")

    monkeypatch.setattr(wasmtime, "Module", no_compile)
    assert executor.execute(ExecuteRequest(sha, "{}", LIMITS)).outcome == "ok"


def test_unknown_module_asks_for_its_bytes(executor):
    assert executor.execute(ExecuteRequest("0" * 64, "{}", LIMITS)) is None


def test_bytes_that_do_not_match_their_hash_are_rejected(executor):
    with pytest.raises(ModuleRejected, match="do not match"):
        executor.load_module("0" * 64, "wat", bytes(wasmtime.wat2wasm(wat.ECHO)))
    with pytest.raises(ModuleRejected, match="not a WebAssembly module"):
        executor.load_module(hashlib.sha256(b"garbage").hexdigest(), "wat", b"garbage")


def test_cache_is_bounded_lru():
    small = Executor(Settings(cache_entries=2))
    first = load(small, wat.ECHO)
    load(small, wat.NOT_JSON)
    load(small, wat.UNREACHABLE)
    assert not small.has_module(first)
    assert len(small.cache) == 2
