"""WAT: `wasmtime.wat2wasm` in a warm Python process."""

from __future__ import annotations

from builder.settings import Settings
from builder.toolchains.base import Toolchain, worker_argv


class Wat(Toolchain):
    def clean_message(self, text: str) -> str:
        return super().clean_message(text).replace("<anon>", self.entry_name)


def toolchains(settings: Settings) -> list[Toolchain]:
    return [
        Wat(
            language="wat",
            argv=worker_argv("wat_worker.py"),
            entry_name="function.wat",
            comment=";;",
        )
    ]
