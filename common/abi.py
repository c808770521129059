"""The WebAssembly ABIs functions are built to, which language uses which, and the check
a module must pass.

The builder checks a module before it publishes it; the runner checks again
before it runs one (it trusts no bytes it did not check). No IO here. A new language
with an existing ABI is one line in ABI_BY_LANGUAGE (plus its builder toolchain).
"""

from __future__ import annotations

from dataclasses import dataclass

import wasmtime


class AbiError(Exception):
    """The module does not follow its language's ABI."""


@dataclass(frozen=True)
class FuncSig:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


@dataclass(frozen=True)
class Abi:
    name: str
    handle: FuncSig
    exports: dict[str, FuncSig | None]  # None: a memory export
    imports: dict[tuple[str, str], FuncSig]  # the host functions the runner provides
    import_modules: frozenset[str] = frozenset()  # whole host modules it provides (WASI)
    kind: str = "module"  # module | component


_AS_IMPORTS = {
    ("env", "abort"): FuncSig(("i32", "i32", "i32", "i32"), ()),
    ("env", "trace"): FuncSig(("i32", "i32", "f64", "f64", "f64", "f64", "f64"), ()),
    ("env", "seed"): FuncSig((), ("f64",)),
    ("env", "Date.now"): FuncSig((), ("f64",)),
    **{
        ("env", f"console.{level}"): FuncSig(("i32",), ())
        for level in ("log", "info", "warn", "error", "debug")
    },
}

ASSEMBLYSCRIPT = Abi(
    name="assemblyscript",
    handle=FuncSig(("i32",), ("i32",)),
    exports={
        "memory": None,
        "__new": FuncSig(("i32", "i32"), ("i32",)),
        "__pin": FuncSig(("i32",), ("i32",)),
        "__unpin": FuncSig(("i32",), ()),
    },
    imports=_AS_IMPORTS,
)

RAW_UTF8 = Abi(
    name="raw-utf8",
    handle=FuncSig(("i32", "i32"), ("i64",)),
    exports={"memory": None, "alloc": FuncSig(("i32",), ("i32",))},
    imports={},
)

# Raw UTF-8 for modules built against WASI preview 1 (wasi-libc, Zig's std): the runner
# links WASI with stdout/stderr captured and nothing else (no files, env or sockets).
WASI_RAW_UTF8 = Abi(
    name="raw-utf8-wasi",
    handle=RAW_UTF8.handle,
    exports=RAW_UTF8.exports,
    imports={},
    import_modules=frozenset({"wasi_snapshot_preview1"}),
)

# A component exporting `handle: func(string) -> result<string, string>` (componentize-py).
PYTHON_COMPONENT = Abi(
    name="python-component", handle=RAW_UTF8.handle, exports={}, imports={}, kind="component"
)

ABI_BY_LANGUAGE = {
    "assemblyscript": ASSEMBLYSCRIPT,
    "wat": RAW_UTF8,
    "c": WASI_RAW_UTF8,
    "zig": WASI_RAW_UTF8,
    "python": PYTHON_COMPONENT,
}

COMPONENT_PREAMBLE = b"\0asm\x0d\x00\x01\x00"  # magic, then the component layer/version
MODULE_PREAMBLE = b"\0asm\x01\x00\x00\x00"


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
    an Engine of their own (the component model on, nothing else added)."""
    config = wasmtime.Config()
    config.wasm_threads = False
    config.wasm_memory64 = False
    config.wasm_multi_memory = False
    config.wasm_gc = False
    config.wasm_exceptions = False
    config.wasm_function_references = False
    config.wasm_component_model = component_model
    config.wasm_relaxed_simd = False
    config.wasm_wide_arithmetic = False
    config.wasm_stack_switching = False
    config.wasm_tail_call = False
    return config
