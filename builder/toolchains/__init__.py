"""Toolchains turn a function's source into WebAssembly, one module per language family.

Every module here with a `toolchains()` function is a plugin, found by scanning this
package: adding a language means adding a module and its worker (plus its line in
common/abi.py; a new ABI also needs a runner adapter in runner/abis/).
"""

from __future__ import annotations

import importlib
import pkgutil

from builder.settings import Settings
from builder.toolchains.base import Toolchain

__all__ = ["Toolchain", "all_toolchains"]


def all_toolchains(settings: Settings | None = None) -> dict[str, Toolchain]:
    """Every plugin's toolchains; `settings` default to the environment's."""
    settings = settings or Settings.from_env()
    found: dict[str, Toolchain] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.endswith("_worker"):  # compiler processes, not plugins
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for toolchain in getattr(module, "toolchains", lambda _: [])(settings):
            found[toolchain.language] = toolchain
    return found
