"""Python: a module defining `handle(event: dict) -> dict`, built into a WebAssembly
component by componentize-py (python_worker.py). No warm-up: a build shares nothing
with the previous one, so compiling a sample first would only cost time."""

from __future__ import annotations

from builder.sandbox import BASE_ENV
from builder.settings import Settings
from builder.toolchains.base import Toolchain, worker_argv


def toolchains(settings: Settings) -> list[Toolchain]:
    return [
        Toolchain(
            language="python",
            argv=worker_argv("python_worker.py"),
            entry_name="function.py",
            comment="#",
            env=dict(BASE_ENV),
            sandbox=settings.sandbox_config(),
        )
    ]
