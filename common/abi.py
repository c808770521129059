"""The WebAssembly ABIs functions are built to, and which language uses which.

`ABI_BY_LANGUAGE` is the one registry of languages: the gateway's list
(`common.contracts.LANGUAGES`) and the runner's adapters are derived from it. Plain data,
no wasmtime: the gateway reads it too. The check a module must pass is common/wasm.py.
A new language with an existing ABI is one line here plus its builder toolchain.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    # The function's environment (SPEC §12): `getenv(name: string): string | null`, a
    # new string (or 0) — see the guide's AssemblyScript section.
    ("env", "nil.getenv"): FuncSig(("i32",), ("i32",)),
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

# Raw UTF-8 for modules built against WASI preview 1 (wasi-libc, Zig's std, Rust's std): the runner
# links WASI with stdout/stderr captured and nothing else (no files, env or sockets).
WASI_RAW_UTF8 = Abi(
    name="raw-utf8-wasi",
    handle=RAW_UTF8.handle,
    exports=RAW_UTF8.exports,
    imports={},
    import_modules=frozenset({"wasi_snapshot_preview1"}),
)

# A component exporting `handle: func(string) -> result<string, string>`: Python
# (componentize-py), JavaScript and TypeScript (componentize-qjs). The runner links WASI
# preview 2 with only stdout and stderr wired.
COMPONENT = Abi(name="component", handle=RAW_UTF8.handle, exports={}, imports={}, kind="component")

ABI_BY_LANGUAGE = {
    "assemblyscript": ASSEMBLYSCRIPT,
    "wat": RAW_UTF8,
    "python": COMPONENT,
    "c": WASI_RAW_UTF8,
    "zig": WASI_RAW_UTF8,
    "javascript": COMPONENT,
    "typescript": COMPONENT,
    "rust": WASI_RAW_UTF8,
}

COMPONENT_PREAMBLE = b"\0asm\x0d\x00\x01\x00"  # magic, then the component layer/version
MODULE_PREAMBLE = b"\0asm\x01\x00\x00\x00"
