"""What every ABI adapter does for the executor: compile and check an artifact, set up a
call's Store, instantiate, call `handle`, and say how much memory the instance holds.

An adapter owns nothing per call; the executor owns the Store and its limits.
"""

from __future__ import annotations

from typing import Any

import wasmtime

from runner.capture import OutputCapture


class GuestAbort(Exception):
    """The function aborted (AssemblyScript `abort`, e.g. a thrown Error)."""


class GuestException(Exception):
    """The function raised an error its language reports (a Python exception)."""


class InvalidOutput(Exception):
    """The function's result could not be read as a string."""


class OutputTooLarge(InvalidOutput):
    """The function's output is larger than the platform returns."""


class AbiAdapter:
    """One ABI. `kind` names the artifact (a core module or a component) and its engine."""

    kind = "module"
    instances_per_artifact = 1  # core instances one instantiation creates (store limits)
    memories = 1  # linear memories one instantiation creates

    def __init__(self, engine: wasmtime.Engine, max_output_bytes: int) -> None:
        self.engine = engine
        self.max_output_bytes = max_output_bytes

    def compile(self, wasm: bytes) -> Any:
        raise NotImplementedError

    def serialize(self, artifact: Any) -> bytes:
        return bytes(artifact.serialize())

    def deserialize(self, data: bytes) -> Any:
        """Only ever called on bytes this runner's own `serialize` wrote (runner/artifacts.py)."""
        raise NotImplementedError

    def deserialize_file(self, path: str) -> Any:
        """The same, mapping the file (a runner's own, verified: runner/artifacts.py)."""
        raise NotImplementedError

    def check(self, artifact: Any) -> str | None:
        """Why the artifact does not follow the ABI, or None. Checked once, when cached."""
        return None

    def prepare_store(
        self, store: wasmtime.Store, capture: OutputCapture, env: dict[str, str]
    ) -> None:
        """Give the call's Store what the ABI grants (WASI streams into `capture`, `env`
        as WASI's environment)."""

    def instantiate(self, store: wasmtime.Store, sha256: str, artifact: Any) -> Any:
        raise NotImplementedError

    def call(self, store: wasmtime.Store, instance: Any, text: str) -> str:
        raise NotImplementedError

    def memory_size(self, store: wasmtime.Store, instance: Any) -> int | None:
        """Bytes of linear memory the instance holds, when the ABI can tell."""
        return None

    def forget(self, sha256: str) -> None:
        """Drop anything kept per artifact (the artifact left the executor's cache)."""
