"""Toolchains turn a function's source into WebAssembly, one module per language family.

Every module here with a `toolchains()` function is a plugin: adding a language means
adding a module (and, if its ABI is new, an ABI in common/abi.py and a runner adapter).
"""

from __future__ import annotations

import importlib
import pkgutil

from builder.toolchains.assemblyscript import node_binary
from builder.toolchains.base import TOOLCHAIN_DIR, Toolchain

__all__ = ["TOOLCHAIN_DIR", "Toolchain", "all_toolchains", "node_binary"]


def all_toolchains() -> dict[str, Toolchain]:
    found: dict[str, Toolchain] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.endswith("_worker"):  # compiler processes, not plugins
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for toolchain in getattr(module, "toolchains", list)():
            found[toolchain.language] = toolchain
    return found
