import pytest
import wasmtime

from builder.validate import problem_kind, validate_artifact
from common.abi import RAW_UTF8, AbiError
from common.wasm import check_module, engine_config

ENGINE = wasmtime.Engine(engine_config())
GOOD = """(module (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) i32.const 0)
  (func (export "handle") (param i32 i32) (result i64) i64.const 0))"""


def module(wat: str) -> wasmtime.Module:
    return wasmtime.Module(ENGINE, wasmtime.wat2wasm(wat))


def test_raw_abi_accepts_a_conforming_module():
    check_module(module(GOOD), RAW_UTF8)


@pytest.mark.parametrize(
    "wat, message",
    [
        ('(module (memory (export "memory") 1))', "must export `handle`"),
        (
            GOOD.replace("(param i32 i32) (result i64) i64.const 0", "(param i32)"),
            "export `handle` must be a function (i32, i32) -> (i64)",
        ),
        (GOOD.replace('(memory (export "memory") 1)', "(memory 1)"), "must export `memory`"),
        (
            GOOD.replace("(module", '(module (import "env" "system" (func))'),
            "import `env.system` is not provided",
        ),
        (
            GOOD.replace(
                "(module",
                '(module (import "wasi_snapshot_preview1" "fd_write" '
                "(func (param i32 i32 i32 i32) (result i32)))",
            ),
            "import `wasi_snapshot_preview1.fd_write` is not provided",
        ),
    ],
)
def test_raw_abi_rejections(wat, message):
    with pytest.raises(AbiError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_module(module(wat), RAW_UTF8)


def test_validate_artifact_reports_invalid_modules():
    assert validate_artifact("wat", b"not wasm") == "the compiler produced no WebAssembly module"
    bad = wasmtime.wat2wasm('(module (func (export "handle") (result i32) i64.const 1))')
    assert "type mismatch" in validate_artifact("wat", bytes(bad))
    assert validate_artifact("wat", bytes(wasmtime.wat2wasm(GOOD))) is None


def test_disabled_proposals_fail_validation():
    threads = wasmtime.wat2wasm('(module (memory (export "memory") 1 1 shared))')
    assert validate_artifact("wat", bytes(threads)).startswith("invalid WebAssembly")


def test_invalid_webassembly_is_not_counted_as_an_abi_error():
    assert problem_kind(validate_artifact("wat", b"not wasm")) == "invalid_wasm"
    assert problem_kind("invalid WebAssembly: type mismatch") == "invalid_wasm"
    assert problem_kind("the compiled module is larger than 33554432 bytes") == "invalid_wasm"
    assert problem_kind("ABI error: no export `handle`") == "abi_error"
