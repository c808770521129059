"""JavaScript and TypeScript: components built by componentize-qjs in warm Node processes.

A function is an ES module exporting `handle(event)`. js_worker.mjs type-checks
TypeScript (the pinned `typescript`, strict), then has componentize-qjs build a component
on data/javascript/wit: QuickJS runs Nil's entry module (data/javascript/entry.js), which
imports the function, and the initialised engine is snapshotted (Wizer). The result is a
~1.6 MB component that the runner compiles in about a second and calls in well under a
millisecond (docs/design.md has the figures against componentize-js).

Node and the componentizer cost seconds to start, so processes stay warm, like the
AssemblyScript compiler's. Each is confined at start (through the sandbox launcher) to
Node, the installed packages, the worker, Nil's data files and one scratch directory of
its own — the only place it writes, emptied before each build, and the only root module
imports resolve under.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from builder.compiler_process import CompilerProcess
from builder.sandbox import prepare_directory
from builder.sandbox.confine import BASE_ENV, SYSTEM_LIBRARIES
from builder.settings import Settings
from builder.toolchains.assemblyscript import node_binary
from builder.toolchains.base import TOOLCHAIN_DIR, WARM_CPU_SECONDS, Toolchain, launched

DATA = TOOLCHAIN_DIR / "data" / "javascript"
WORKER = TOOLCHAIN_DIR / "js_worker.mjs"


@dataclass
class JavaScript(Toolchain):
    warmup_source = "export function handle(event) {\n  return event;\n}\n"
    _scratch: list[str] = field(default_factory=list, repr=False)

    def request(self, source: str, timeout: float) -> dict:
        return {"source": source, "language": self.language}

    def new_process(self) -> CompilerProcess:
        # Each process writes only its own scratch directory (given to the sandbox's uid).
        scratch = tempfile.mkdtemp(prefix=f"nil-{self.language}-")
        self._scratch.append(scratch)
        prepare_directory(scratch, self.sandbox)
        argv = [*self.argv, scratch]
        if self.sandbox.enabled:
            policy = self.warm_policy().allowing(write=(scratch,))
            argv = launched(policy, argv)
        heap_mb = self.sandbox.memory_mb * 5 // 8  # V8 reports its heap full before the cap
        return CompilerProcess(
            argv,
            cwd=scratch,  # componentize-qjs writes its temporary files to the working directory
            env={
                **self.env,
                "TMPDIR": scratch,
                "NODE_OPTIONS": f"--max-old-space-size={heap_mb}",
            },
            cpu_lifetime=WARM_CPU_SECONDS if self.sandbox.enabled else None,
        )

    def clean_message(self, text: str) -> str:
        text = super().clean_message(text)
        return re.sub(r"\bnil-(?:javascript|typescript)-\w+/job/?", "", text).strip()

    def close(self) -> None:
        super().close()
        for scratch in self._scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        self._scratch.clear()


class TypeScript(JavaScript):
    warmup_source = "export function handle(event: NilEvent): NilJson {\n  return event;\n}\n"


def toolchains(settings: Settings) -> list[Toolchain]:
    node = Path(node_binary()).resolve()
    node_home = node.parent.parent if node.parent.name == "bin" else node
    common = {
        "argv": [str(node), str(WORKER)],
        "comment": "//",
        # Node reads OpenSSL's configuration at start unless told it has none.
        "env": {**BASE_ENV, "OPENSSL_CONF": "/nonexistent/openssl.cnf"},
        "sandbox": settings.sandbox_config(),
        "reads": (
            str(node_home),
            str(TOOLCHAIN_DIR / "node_modules"),
            str(WORKER),
            str(DATA),
            *SYSTEM_LIBRARIES,
        ),
        "path_labels": {str(node_home): "node", str(DATA): "nil"},
    }
    return [
        JavaScript(language="javascript", entry_name="function.js", **common),
        TypeScript(language="typescript", entry_name="function.ts", **common),
    ]
