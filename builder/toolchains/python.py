"""Python: a module defining `handle(event: dict) -> dict`, built into a WebAssembly
component: a copy of the host's template (python_template.py) when it can serve the
source, else by componentize-py (python_worker.py). The warm-up builds a sample, which
makes the template once per host (~10 s) before the first function needs it."""

from __future__ import annotations

from builder.sandbox import BASE_ENV
from builder.settings import Settings
from builder.toolchains.base import Toolchain, worker_argv


class PythonToolchain(Toolchain):
    warmup_source = "def handle(event):\n    return event\n"


def toolchains(settings: Settings) -> list[Toolchain]:
    return [
        PythonToolchain(
            language="python",
            argv=worker_argv("python_worker.py"),
            entry_name="function.py",
            comment="#",
            env={**BASE_ENV, "NIL_PYTHON_TEMPLATE_DIR": settings.python_template_dir},
            sandbox=settings.sandbox_config(),
        )
    ]
