import pytest

from common.contracts import CompilationJob, CompilationResult, Limits


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
