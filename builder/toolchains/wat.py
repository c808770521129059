"""WAT: `wasmtime.wat2wasm` in warm Python processes, each confined at start (after
importing wasmtime) to nothing at all: WAT has no include mechanism and needs no file."""

from __future__ import annotations

from builder.compiler_process import CompilerProcess
from builder.sandbox import BASE_ENV
from builder.settings import Settings
from builder.toolchains.base import WARM_CPU_SECONDS, Toolchain, worker_argv


class Wat(Toolchain):
    def process_argv(self) -> list[str]:
        return [*self.argv, self.warm_policy().to_json()]

    def new_process(self) -> CompilerProcess:
        return CompilerProcess(
            self.process_argv(),
            cwd=str(self.cwd),
            env=self.env,
            cpu_lifetime=WARM_CPU_SECONDS if self.sandbox.enabled else None,
        )

    def request(self, source: str, timeout: float) -> dict:
        return {"source": source}

    def clean_message(self, text: str) -> str:
        return super().clean_message(text).replace("<anon>", self.entry_name)


def toolchains(settings: Settings) -> list[Toolchain]:
    return [
        Wat(
            language="wat",
            argv=worker_argv("wat_worker.py"),
            entry_name="function.wat",
            comment=";;",
            env=dict(BASE_ENV),
            sandbox=settings.sandbox_config(),
        )
    ]
