"""The runners' shared artifact directory: compile once per host, never load bytes that
are torn, altered or made by another engine configuration."""

from __future__ import annotations

import hashlib
import json
import os

import wasmtime

from common.contracts import ExecuteRequest, Limits
from runner.artifacts import ArtifactStore
from runner.engine import make_engine
from runner.executor import Executor
from runner.settings import Settings
from tests.integration.helpers import source

ENGINE = make_engine(512 * 1024)
WASM = bytes(wasmtime.wat2wasm(source("echo.wat")))
SHA = hashlib.sha256(WASM).hexdigest()


class Compiler:
    def __init__(self) -> None:
        self.compiles = 0

    def __call__(self) -> wasmtime.Module:
        self.compiles += 1
        return wasmtime.Module(ENGINE, WASM)


def load(store: ArtifactStore, compiler: Compiler) -> wasmtime.Module:
    return store.load(
        SHA,
        "module",
        compiler,
        lambda module: bytes(module.serialize()),
        lambda data: wasmtime.Module.deserialize(ENGINE, data),
    )


def test_a_second_runner_reads_what_the_first_compiled(tmp_path):
    compiler = Compiler()
    first = load(ArtifactStore(str(tmp_path), "engine-a"), compiler)
    second = load(ArtifactStore(str(tmp_path), "engine-a"), compiler)
    assert compiler.compiles == 1
    assert [e.name for e in second.exports] == [e.name for e in first.exports]


def test_an_altered_artifact_is_compiled_again_and_replaced(tmp_path):
    compiler = Compiler()
    store = ArtifactStore(str(tmp_path), "engine-a")
    load(store, compiler)
    [path] = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    load(store, compiler)
    assert compiler.compiles == 2
    load(store, compiler)
    assert compiler.compiles == 2  # the rewritten file is good again


def test_another_engine_configuration_never_reads_the_file(tmp_path):
    compiler = Compiler()
    load(ArtifactStore(str(tmp_path), "engine-a"), compiler)
    load(ArtifactStore(str(tmp_path), "engine-b"), compiler)
    assert compiler.compiles == 2


def test_the_directory_is_pruned_to_its_budget(tmp_path):
    store = ArtifactStore(str(tmp_path), "engine-a", max_bytes=1)
    load(store, Compiler())
    files = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    assert files == []


def test_executors_sharing_a_directory_run_the_same_module(tmp_path):
    limits = Limits(timeout_ms=1000, memory_mb=16, fuel=10_000_000)
    outputs = []
    for _ in range(2):
        executor = Executor(Settings(artifact_dir=str(tmp_path)))
        executor.load_module(SHA, "wat", WASM)
        outputs.append(executor.execute(ExecuteRequest(SHA, json.dumps({"a": 1}), limits)).output)
    assert outputs == ['{"a": 1}', '{"a": 1}']
    artifacts = [p for p in os.listdir(tmp_path) if p.startswith(SHA)]
    assert len([p for p in artifacts if not p.endswith(".lock")]) == 1


def test_large_artifacts_compile_in_a_child_process(tmp_path):
    executor = Executor(Settings(artifact_dir=str(tmp_path), compile_in_child_bytes=0))
    executor.load_module(SHA, "wat", WASM)
    limits = Limits(timeout_ms=1000, memory_mb=16, fuel=10_000_000)
    assert executor.execute(ExecuteRequest(SHA, '{"child":1}', limits)).output == '{"child":1}'


def test_a_module_the_child_cannot_compile_is_rejected_with_its_reason(tmp_path):
    import pytest

    from runner.executor import ModuleRejected

    executor = Executor(Settings(artifact_dir=str(tmp_path), compile_in_child_bytes=0))
    broken = b"\0asm\x01\0\0\0\x01\xff"
    with pytest.raises(ModuleRejected, match="invalid WebAssembly"):
        executor.load_module(hashlib.sha256(broken).hexdigest(), "wat", broken)
    assert [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
