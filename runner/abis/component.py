"""Components: Python functions (built by componentize-py against the WIT world in
builder/toolchains/data/python/wit) and JavaScript/TypeScript functions (componentize-qjs,
data/javascript/wit). The component exports

    handle: func(input: string) -> result<string, string>

`ok` carries the JSON output; `err` carries the function's exception as its language's
entry module formats it (a Python traceback; a JavaScript error with its stack).
Components run on their own Engine (component model and multi-memory on) with the same
fuel, epoch deadline and store limits as modules, and WASI preview 2 with nothing but
stdout and stderr: no preopened directories, no environment, sockets denied.
"""

from __future__ import annotations

from typing import Any

import wasmtime
from wasmtime import component

from runner.abis.base import AbiAdapter, GuestException, InvalidOutput, OutputTooLarge
from runner.abis.core import wasi_config
from runner.capture import OutputCapture

EXPORT = "handle"


class ComponentAdapter(AbiAdapter):
    kind = "component"
    # componentize-py links libc, libpython and its runtime as separate core instances;
    # componentize-qjs's QuickJS and its WASI adapter make ~10 small ones. Either has two
    # linear memories at most (each capped like a module's): QuickJS's core module has
    # both (multi-memory, on for the component engine only: common/wasm.py).
    instances_per_artifact = 16
    memories = 2

    def __init__(self, engine: wasmtime.Engine, max_output_bytes: int) -> None:
        super().__init__(engine, max_output_bytes)
        self.linker = component.Linker(engine)
        self.linker.add_wasip2()
        self._handle_index: dict[str, component.ExportIndex] = {}

    def compile(self, wasm: bytes) -> component.Component:
        return component.Component(self.engine, wasm)

    def deserialize(self, data: bytes) -> component.Component:
        return component.Component.deserialize(self.engine, data)

    def deserialize_file(self, path: str) -> component.Component:
        return component.Component.deserialize_file(self.engine, path)

    def check(self, artifact: component.Component) -> str | None:
        export = artifact.type.exports(self.engine).get(EXPORT)
        func = export.ty if export is not None else None
        if not isinstance(func, component.FuncType):
            return f"ABI error: the component must export a function `{EXPORT}`"
        params = [type(t).__name__ for _, t in func.params]
        result = func.result
        if (
            params != ["String"]
            or not isinstance(result, component.ResultType)
            or not isinstance(result.ok, component.String)
            or not isinstance(result.err, component.String)
        ):
            return f"ABI error: `{EXPORT}` must be func(string) -> result<string, string>"
        return None

    def prepare_store(
        self, store: wasmtime.Store, capture: OutputCapture, env: dict[str, str]
    ) -> None:
        store.set_wasi(wasi_config(capture, env))

    def instantiate(self, store: wasmtime.Store, sha256: str, artifact: Any) -> Any:
        index = self._handle_index.get(sha256)
        if index is None:
            index = artifact.get_export_index(EXPORT)
            if index is None:
                raise InvalidOutput(f"the component has no `{EXPORT}` export")
            self._handle_index[sha256] = index
        return self.linker.instantiate(store, artifact), index

    def forget(self, sha256: str) -> None:
        self._handle_index.pop(sha256, None)

    def call(self, store: wasmtime.Store, instance: Any, text: str) -> str:
        instance, index = instance
        func = instance.get_func(store, index)
        if func is None:
            raise InvalidOutput(f"the component has no `{EXPORT}` function")
        result = func(store, text)
        func.post_return(store)
        if result.tag == "err":
            raise GuestException(str(result.payload))
        output = str(result.payload)
        if len(output) > self.max_output_bytes:  # characters ≤ bytes; checked again in bytes
            raise OutputTooLarge(f"output is larger than {self.max_output_bytes} bytes")
        return output
