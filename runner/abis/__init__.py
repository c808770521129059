"""Runner ABI adapters, one per ABI of common/abi.py. A language whose ABI exists needs
nothing here; a new ABI adds a module and a line below."""

from __future__ import annotations

from runner.abis.base import (
    AbiAdapter,
    GuestAbort,
    GuestException,
    InvalidOutput,
    OutputTooLarge,
)
from runner.abis.component import ComponentAdapter
from runner.abis.core import AssemblyScriptAdapter, RawUtf8Adapter, WasiRawUtf8Adapter

ADAPTER_BY_ABI: dict[str, type[AbiAdapter]] = {
    "assemblyscript": AssemblyScriptAdapter,
    "raw-utf8": RawUtf8Adapter,
    "raw-utf8-wasi": WasiRawUtf8Adapter,
    "component": ComponentAdapter,
}

__all__ = [
    "ADAPTER_BY_ABI",
    "AbiAdapter",
    "GuestAbort",
    "GuestException",
    "InvalidOutput",
    "OutputTooLarge",
]
