"""Host side of each function ABI: the imports a module may use and how `handle` is called.

Host functions are defined once per Linker; what they need from the current call
(its log buffer) comes from `CallContext.current`, which is safe because a runner
process runs one execution at a time.
"""

from __future__ import annotations

import random
import struct
import threading
import time
from dataclasses import dataclass, field

import wasmtime

from common.abi import ASSEMBLYSCRIPT, RAW_UTF8, Abi


class GuestAbort(Exception):
    """The function aborted (AssemblyScript `abort`, e.g. a thrown Error)."""


class InvalidOutput(Exception):
    """The function's result could not be read as a string."""


class OutputTooLarge(InvalidOutput):
    """The function's output is larger than the platform returns."""


@dataclass
class CallContext:
    max_log_bytes: int
    logs: list[str] = field(default_factory=list)
    log_bytes: int = 0
    truncated: bool = False

    _local = threading.local()

    def log(self, line: str) -> None:
        if self.truncated:
            return
        size = len(line.encode("utf-8", "replace")) + 1
        if self.log_bytes + size > self.max_log_bytes:
            self.truncated = True
            self.logs.append("[logs truncated]")
            return
        self.logs.append(line)
        self.log_bytes += size

    @classmethod
    def current(cls) -> CallContext:
        return cls._local.ctx

    def __enter__(self) -> CallContext:
        CallContext._local.ctx = self
        return self

    def __exit__(self, *exc: object) -> None:
        CallContext._local.ctx = None


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


class AbiAdapter:
    abi: Abi

    def __init__(self, engine: wasmtime.Engine, max_output_bytes: int) -> None:
        self.max_output_bytes = max_output_bytes
        self.linker = wasmtime.Linker(engine)
        self.define_imports(self.linker)

    def define_imports(self, linker: wasmtime.Linker) -> None:
        """The host functions of this ABI; nothing else is linked."""

    def call(self, store: wasmtime.Store, instance: wasmtime.Instance, text: str) -> str:
        raise NotImplementedError


class AssemblyScriptAdapter(AbiAdapter):
    """`handle(input: string): string` with AssemblyScript's managed UTF-16 strings."""

    abi = ASSEMBLYSCRIPT
    STRING_CLASS_ID = 2

    def define_imports(self, linker: wasmtime.Linker) -> None:
        sigs = self.abi.imports

        def functype(name: str) -> wasmtime.FuncType:
            sig = sigs[("env", name)]
            return wasmtime.FuncType(
                [
                    wasmtime.ValType.i32() if p == "i32" else wasmtime.ValType.f64()
                    for p in sig.params
                ],
                [wasmtime.ValType.f64() for _ in sig.results],
            )

        def abort(caller, msg_ptr, file_ptr, line, column):
            memory = _memory(caller)
            message = _readable(caller, memory, msg_ptr, 64 * 1024) or "abort"
            file = _readable(caller, memory, file_ptr, 4096) or "unknown"
            raise GuestAbort(f"{message} (at {file}:{line}:{column})")

        def trace(caller, msg_ptr, n, *values):
            message = read_as_string(caller, _memory(caller), msg_ptr, 64 * 1024) or ""
            CallContext.current().log(" ".join([message, *(repr(v) for v in values[:n])]))

        def console(caller, msg_ptr):
            CallContext.current().log(
                read_as_string(caller, _memory(caller), msg_ptr, 64 * 1024) or "null"
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


class RawUtf8Adapter(AbiAdapter):
    """`alloc(len) -> ptr`, `handle(ptr, len) -> (outPtr << 32) | outLen`, UTF-8 bytes."""

    abi = RAW_UTF8

    def call(self, store: wasmtime.Store, instance: wasmtime.Instance, text: str) -> str:
        exports = instance.exports(store)
        memory = exports["memory"]
        data = text.encode("utf-8")
        ptr = exports["alloc"](store, len(data))
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


ADAPTERS: dict[str, type[AbiAdapter]] = {
    "assemblyscript": AssemblyScriptAdapter,
    "wat": RawUtf8Adapter,
}
