"""Core WebAssembly module ABIs: AssemblyScript strings, raw UTF-8, and raw UTF-8 with WASI.

Host functions are defined once per Linker; what they need from the current call (its
output capture, its deadline) comes from runner/abis/context.py. WASI modules get
wasmtime's WASI preview 1 with its blocking call bounded by the call's deadline
(runner/abis/wasi.py). Each module's InstancePre is kept, so a call only instantiates.
"""

from __future__ import annotations

import random
import struct
import time
from typing import Any

import wasmtime

from common.abi import ASSEMBLYSCRIPT, RAW_UTF8, WASI_RAW_UTF8, Abi, AbiError
from common.wasm import check_module
from runner.abis import context, wasi
from runner.abis.base import AbiAdapter, GuestAbort, InvalidOutput, OutputTooLarge
from runner.capture import OutputCapture


class ModuleAdapter(AbiAdapter):
    abi: Abi

    def __init__(self, engine: wasmtime.Engine, max_output_bytes: int) -> None:
        super().__init__(engine, max_output_bytes)
        self.linker = wasmtime.Linker(engine)
        self.define_imports(self.linker)
        self._pre: dict[str, wasmtime.InstancePre] = {}

    def define_imports(self, linker: wasmtime.Linker) -> None:
        """The host functions of this ABI; nothing else is linked."""

    def compile(self, wasm: bytes) -> wasmtime.Module:
        return wasmtime.Module(self.engine, wasm)

    def deserialize(self, data: bytes) -> wasmtime.Module:
        return wasmtime.Module.deserialize(self.engine, data)

    def deserialize_file(self, path: str) -> wasmtime.Module:
        return wasmtime.Module.deserialize_file(self.engine, path)

    def check(self, artifact: wasmtime.Module) -> str | None:
        try:
            check_module(artifact, self.abi)
        except AbiError as exc:
            return f"ABI error: {exc}"
        return None

    def instantiate(self, store: wasmtime.Store, sha256: str, artifact: Any) -> wasmtime.Instance:
        pre = self._pre.get(sha256)
        if pre is None:
            pre = self._pre[sha256] = self.linker.instantiate_pre(artifact)
        return pre.instantiate(store)

    def forget(self, sha256: str) -> None:
        self._pre.pop(sha256, None)

    def memory_size(self, store: wasmtime.Store, instance: Any) -> int | None:
        if instance is None:
            return None
        memory = _export(store, instance, "memory")
        return memory.data_len(store) if isinstance(memory, wasmtime.Memory) else None


def _export(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> Any:
    try:
        return instance.exports(store)[name]
    except KeyError:
        return None


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise GuestAbort("the module has no exported memory")
    return memory


def read_as_string(store, memory: wasmtime.Memory, ptr: int, max_bytes: int) -> str | None:
    """An AssemblyScript string: UTF-16LE, its byte length in the header word before it."""
    if ptr == 0:
        return None
    size = memory.data_len(store)
    if ptr < 4 or ptr > size:
        raise InvalidOutput("string pointer out of bounds")
    (length,) = struct.unpack("<I", memory.read(store, ptr - 4, ptr))
    if length > max_bytes:
        raise OutputTooLarge(f"output is larger than {max_bytes} bytes")
    if ptr + length > size:
        raise InvalidOutput("string extends past the end of memory")
    try:
        return bytes(memory.read(store, ptr, ptr + length)).decode("utf-16-le")
    except UnicodeDecodeError:
        raise InvalidOutput("output is not valid UTF-16") from None


def _readable(store, memory: wasmtime.Memory, ptr: int, max_bytes: int) -> str | None:
    """A string for a diagnostic: what cannot be read is said so, not raised."""
    try:
        return read_as_string(store, memory, ptr, max_bytes)
    except InvalidOutput:
        return "<unreadable>"


class AssemblyScriptAdapter(ModuleAdapter):
    """`handle(input: string): string` with AssemblyScript's managed UTF-16 strings."""

    abi = ASSEMBLYSCRIPT
    STRING_CLASS_ID = 2

    def define_imports(self, linker: wasmtime.Linker) -> None:
        sigs = self.abi.imports

        def valtype(name: str) -> wasmtime.ValType:
            return wasmtime.ValType.i32() if name == "i32" else wasmtime.ValType.f64()

        def functype(name: str) -> wasmtime.FuncType:
            sig = sigs[("env", name)]
            return wasmtime.FuncType(
                [valtype(p) for p in sig.params], [valtype(r) for r in sig.results]
            )

        def abort(caller, msg_ptr, file_ptr, line, column):
            memory = _memory(caller)
            message = _readable(caller, memory, msg_ptr, 64 * 1024) or "abort"
            file = _readable(caller, memory, file_ptr, 4096) or "unknown"
            raise GuestAbort(f"{message} (at {file}:{line}:{column})")

        def log_line(text: str) -> None:
            capture = context.capture()
            if capture is not None:
                capture.line(text)

        def trace(caller, msg_ptr, n, *values):
            message = _readable(caller, _memory(caller), msg_ptr, 64 * 1024) or ""
            log_line(" ".join([message, *(repr(v) for v in values[:n])]))

        def console(caller, msg_ptr):
            log_line(_readable(caller, _memory(caller), msg_ptr, 64 * 1024) or "null")

        linker.define_func(
            "env", "nil.getenv", functype("nil.getenv"), _as_getenv, access_caller=True
        )
        linker.define_func("env", "abort", functype("abort"), abort, access_caller=True)
        linker.define_func("env", "trace", functype("trace"), trace, access_caller=True)
        linker.define_func("env", "seed", functype("seed"), lambda: random.random() * 2**52)
        linker.define_func("env", "Date.now", functype("Date.now"), lambda: time.time() * 1000)
        for level in ("log", "info", "warn", "error", "debug"):
            name = f"console.{level}"
            linker.define_func("env", name, functype(name), console, access_caller=True)

    def call(self, store: wasmtime.Store, instance: wasmtime.Instance, text: str) -> str:
        exports = instance.exports(store)
        memory = exports["memory"]
        encoded = text.encode("utf-16-le")
        ptr = exports["__new"](store, len(encoded), self.STRING_CLASS_ID)
        memory.write(store, encoded, ptr)
        exports["__pin"](store, ptr)
        result_ptr = exports["handle"](store, ptr)
        output = read_as_string(store, memory, result_ptr, self.max_output_bytes * 2)
        if output is None:
            raise InvalidOutput("handle returned null")
        return output


def _as_getenv(caller: wasmtime.Caller, name_ptr: int) -> int:
    """`getenv(name)`: the call's variable as a new AssemblyScript string, or 0 (null)."""
    memory = _memory(caller)
    name = read_as_string(caller, memory, name_ptr, 4096)
    value = context.getenv(name) if name is not None else None
    if value is None:
        return 0
    new = caller.get("__new")
    if not isinstance(new, wasmtime.Func):
        raise GuestAbort("the module has no exported __new")
    encoded = value.encode("utf-16-le")
    ptr = new(caller, len(encoded), AssemblyScriptAdapter.STRING_CLASS_ID)
    memory.write(caller, encoded, ptr)
    return ptr


class RawUtf8Adapter(ModuleAdapter):
    """`alloc(len) -> ptr`, `handle(ptr, len) -> (outPtr << 32) | outLen`, UTF-8 bytes."""

    abi = RAW_UTF8

    def call(self, store: wasmtime.Store, instance: wasmtime.Instance, text: str) -> str:
        exports = instance.exports(store)
        memory = exports["memory"]
        data = text.encode("utf-8")
        ptr = exports["alloc"](store, len(data))
        if ptr == 0 and data:
            raise InvalidOutput("alloc returned a null pointer (out of memory?)")
        if ptr < 0 or ptr + len(data) > memory.data_len(store):
            raise InvalidOutput("alloc returned a pointer outside memory")
        memory.write(store, data, ptr)
        packed = exports["handle"](store, ptr, len(data)) & 0xFFFF_FFFF_FFFF_FFFF
        out_ptr, out_len = packed >> 32, packed & 0xFFFF_FFFF
        if out_len > self.max_output_bytes:
            raise OutputTooLarge(f"output is larger than {self.max_output_bytes} bytes")
        if out_ptr + out_len > memory.data_len(store):
            raise InvalidOutput("output extends past the end of memory")
        try:
            return bytes(memory.read(store, out_ptr, out_ptr + out_len)).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidOutput("output is not valid UTF-8") from None


def wasi_config(capture: OutputCapture, env: dict[str, str]) -> wasmtime.WasiConfig:
    """WASI with nothing but stdout and stderr (into `capture`) and the call's `env` (its
    function's env and secrets, SPEC §12): no arguments, no preopened directories, an
    empty stdin. Sockets are denied by default. A fresh config per call: nothing of one
    call's environment reaches another's."""
    config = wasmtime.WasiConfig()
    if env:
        config.env = list(env.items())
    config.stdout_custom = capture.write
    config.stderr_custom = capture.write_stderr
    return config


class WasiRawUtf8Adapter(RawUtf8Adapter):
    """Raw UTF-8 for modules built against WASI preview 1 (C, Zig): their prints are
    captured. A reactor's `_initialize` (C constructors) runs before `handle`."""

    abi = WASI_RAW_UTF8

    def define_imports(self, linker: wasmtime.Linker) -> None:
        wasi.define_bounded_wasi(linker)

    def prepare_store(
        self, store: wasmtime.Store, capture: OutputCapture, env: dict[str, str]
    ) -> None:
        store.set_wasi(wasi_config(capture, env))

    def call(self, store: wasmtime.Store, instance: wasmtime.Instance, text: str) -> str:
        initialize = _export(store, instance, "_initialize")
        if isinstance(initialize, wasmtime.Func):
            initialize(store)
        return super().call(store, instance, text)
