"""The wasmtime side of the ABIs (common/abi.py): the check a module must pass and the
engine feature set. The builder checks a module before it publishes it; the runner checks
again before it runs one (it trusts no bytes it did not check). Only the builder and the
runner import this module: they are the services that carry wasmtime.
"""

from __future__ import annotations

import wasmtime
from wasmtime import _ffi

from common.abi import Abi, AbiError, FuncSig


def _sig(func_type: wasmtime.FuncType) -> FuncSig:
    return FuncSig(
        tuple(str(p) for p in func_type.params), tuple(str(r) for r in func_type.results)
    )


def check_module(module: wasmtime.Module, abi: Abi) -> None:
    """Raise AbiError naming the first way `module` breaks `abi`."""
    exports = {e.name: e.type for e in module.exports}
    wanted = {"handle": abi.handle, **abi.exports}
    for name, sig in wanted.items():
        found = exports.get(name)
        if found is None:
            raise AbiError(f"the module must export `{name}`")
        if sig is None:
            if not isinstance(found, wasmtime.MemoryType):
                raise AbiError(f"export `{name}` must be a memory")
        elif not isinstance(found, wasmtime.FuncType) or _sig(found) != sig:
            raise AbiError(f"export `{name}` must be a function {sig}")
    for imp in module.imports:
        if imp.module in abi.import_modules:
            continue
        key = (imp.module, imp.name)
        allowed = abi.imports.get(key)
        if allowed is None:
            raise AbiError(
                f"import `{imp.module}.{imp.name}` is not provided by the {abi.name} ABI"
            )
        if not isinstance(imp.type, wasmtime.FuncType) or _sig(imp.type) != allowed:
            raise AbiError(f"import `{imp.module}.{imp.name}` must be a function {allowed}")


def engine_config(component_model: bool = False) -> wasmtime.Config:
    """Feature set shared by the builder's check and the runner: proposals a function
    does not need are off, so a module that uses them fails validation. Components get
    an Engine of their own: the component model on, and multi-memory, which QuickJS
    components (JavaScript) need — a store still allows a component two memories at
    most, each under the function's memory cap (runner/abis/component.py)."""
    config = wasmtime.Config()
    config.wasm_threads = False
    config.wasm_memory64 = False
    config.wasm_multi_memory = component_model
    config.wasm_gc = False
    config.wasm_exceptions = False
    config.wasm_function_references = False
    config.wasm_component_model = component_model
    config.wasm_relaxed_simd = False
    config.wasm_wide_arithmetic = False
    config.wasm_stack_switching = False
    config.wasm_tail_call = False
    return config


_WINCH = 2  # wasmtime_strategy_t: Config.strategy's Python setter accepts only auto/cranelift


def use_baseline_compiler(config: wasmtime.Config) -> None:
    """Winch, wasmtime's single-pass compiler: a Python component compiles ~4x faster
    than with Cranelift into code that runs CPU-heavy Python ~2x slower."""
    _ffi.wasmtime_config_strategy_set(config.ptr(), _WINCH)
