import pytest

from common.contracts import (
    CompilationJob,
    CompilationResult,
    ExecuteReply,
    ExecuteRequest,
    Limits,
    Outcome,
)


def test_job_round_trips_through_json():
    job = CompilationJob("f1", 3, "wat", "(module)")
    assert CompilationJob.from_json(job.to_json()) == job
    assert job.to_json() == {
        "functionId": "f1",
        "revision": 3,
        "language": "wat",
        "source": "(module)",
    }


def test_result_carries_its_binary_as_base64():
    result = CompilationResult("f1", 2, True, wasm_binary=b"\0asm\x01")
    assert result.to_json()["wasmBinary"] == "AGFzbQE="
    assert CompilationResult.from_json(result.to_json()) == result


def test_result_invariants():
    with pytest.raises(ValueError, match="carries a binary"):
        CompilationResult("f", 1, True)
    with pytest.raises(ValueError, match="carries an error"):
        CompilationResult("f", 1, False)


def test_limits_json():
    assert Limits.from_json({"timeoutMs": 1, "memoryMb": 2, "fuel": 3}) == Limits(1, 2, 3)
    assert Limits(1, 2, 3).to_json() == {"timeoutMs": 1, "memoryMb": 2, "fuel": 3}


def test_execute_request_round_trips_through_json():
    request = ExecuteRequest("ab" * 32, '{"a":1}', Limits(1000, 64, 5))
    assert request.to_json() == {
        "sha256": "ab" * 32,
        "input": '{"a":1}',
        "limits": {"timeoutMs": 1000, "memoryMb": 64, "fuel": 5},
    }
    assert ExecuteRequest.from_json(request.to_json()) == request


def test_execute_reply_round_trips_through_json():
    reply = ExecuteReply(Outcome.TRAP, None, "wasm trap: unreachable", 1.25, 42, "printed\n")
    assert reply.to_json() == {
        "outcome": "trap",
        "output": None,
        "error": "wasm trap: unreachable",
        "durationMs": 1.25,
        "fuelUsed": 42,
        "logs": "printed\n",
    }
    assert ExecuteReply.from_json(reply.to_json()) == reply
    assert ExecuteReply.from_json({"outcome": "ok", "output": "{}"}) == ExecuteReply(
        Outcome.OK, output="{}"
    )


def test_every_outcome_is_a_wire_value():
    assert [o.value for o in Outcome] == [
        "ok",
        "exception",
        "trap",
        "timeout",
        "fuel_exhausted",
        "memory_limit",
        "abi_error",
        "invalid_output",
        "platform_error",
    ]
    with pytest.raises(ValueError):
        ExecuteReply.from_json({"outcome": "exploded"})
