"""The AssemblyScript ABI on real asc output: strings in and out, abort, console."""

import hashlib

import pytest

from common.contracts import ExecuteRequest, Limits
from runner.executor import Executor
from runner.settings import Settings
from tests.integration.helpers import source

LIMITS = Limits(timeout_ms=2000, memory_mb=32, fuel=500_000_000)


@pytest.fixture(scope="module")
def executor():
    return Executor(Settings())


@pytest.fixture
def compiled(toolchains, executor):
    def build(text: str) -> str:
        output = toolchains["assemblyscript"].compile(text, timeout=60)
        assert output.ok, output.error
        sha = hashlib.sha256(output.wasm).hexdigest()
        executor.load_module(sha, "assemblyscript", output.wasm)
        return sha

    return build


def test_echo_round_trips_unicode(compiled, executor):
    text = '{"greeting":"héllo wörld ✓ 🚀"}'
    outcome = executor.execute(ExecuteRequest(compiled(source("echo.ts")), text, LIMITS))
    assert (outcome.outcome, outcome.output) == ("ok", text)


def test_add_with_json_as(compiled, executor):
    outcome = executor.execute(ExecuteRequest(compiled(source("add.ts")), '{"a":5,"b":3}', LIMITS))
    assert (outcome.outcome, outcome.output) == ("ok", '{"sum":8}')


def test_throw_reports_message_and_position(compiled, executor):
    outcome = executor.execute(ExecuteRequest(compiled(source("throw.ts")), "{}", LIMITS))
    assert outcome.outcome == "trap"
    assert outcome.error == (
        "function aborted: invalid order: quantity must be positive (at function.ts:3:5)"
    )


def test_console_output_is_captured(compiled, executor):
    sha = compiled(
        "export function handle(input: string): string {\n"
        '  console.log("got " + input);\n  return "1";\n}\n'
    )
    outcome = executor.execute(ExecuteRequest(sha, '{"x":1}', LIMITS))
    assert (outcome.outcome, outcome.logs) == ("ok", 'got {"x":1}\n')


def test_returning_non_json_is_invalid_output(compiled, executor):
    sha = compiled('export function handle(input: string): string { return "plain"; }')
    outcome = executor.execute(ExecuteRequest(sha, "{}", LIMITS))
    assert (outcome.outcome, outcome.error) == ("invalid_output", "function returned invalid JSON")
