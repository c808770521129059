"""A toolchain: a warm compiler process plus the rules for its messages."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from builder.compiler_process import CompileOutput, CompilerProcess

TOOLCHAIN_DIR = Path(__file__).resolve().parent
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def worker_argv(script: str) -> list[str]:
    """A compiler process written in Python, in this folder (see worker_protocol.py)."""
    return [sys.executable, str(TOOLCHAIN_DIR / script)]


@dataclass
class Toolchain:
    """One language: its name (a key of common.abi.ABI_BY_LANGUAGE), its compiler, and
    what the guide and tools need to know of its sources (file name, comment syntax)."""

    language: str
    argv: list[str]
    entry_name: str  # the source's file name, as compiler messages name it
    comment: str  # starts a line comment in a source
    cwd: Path = TOOLCHAIN_DIR
    env: dict[str, str] = field(default_factory=dict)
    _process: CompilerProcess | None = field(default=None, repr=False)

    warmup_source: ClassVar[str] = ""

    @property
    def process(self) -> CompilerProcess:
        if self._process is None:
            env = {**os.environ, **self.env}
            self._process = CompilerProcess(self.argv, cwd=str(self.cwd), env=env)
        return self._process

    def request(self, source: str) -> dict:
        return {"source": source, "language": self.language}

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
