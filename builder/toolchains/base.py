"""A toolchain: warm compiler processes, their sandbox, and the rules for their messages.

A toolchain keeps a small pool of compiler processes, one per build running at once, so
builds of one language run in parallel. Each compile is confined (builder/sandbox):
compilers started per job (C, Zig, Python) get the policy in the request and confine
that job's process to its own directory; warm compilers that run in-memory (WAT,
AssemblyScript) are confined once, at start, to their toolchain alone.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from builder.compiler_process import CompileOutput, CompilerProcess, SourceCrashed
from builder.sandbox import BASE_ENV, Policy, SandboxConfig

TOOLCHAIN_DIR = Path(__file__).resolve().parent
REPO_DIR = TOOLCHAIN_DIR.parents[1]
WARM_CPU_SECONDS = 3600  # a warm compiler's lifetime CPU time; then it is replaced
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def worker_argv(script: str) -> list[str]:
    """A compiler process written in Python, in this folder (see worker_protocol.py)."""
    return [sys.executable, str(TOOLCHAIN_DIR / script)]


def launched(policy: Policy, argv: list[str]) -> list[str]:
    """`argv` started through the sandbox launcher (for compilers that are not Python)."""
    return [
        sys.executable,
        str(REPO_DIR / "builder" / "sandbox" / "launch.py"),
        policy.to_json(),
        *argv,
    ]


def host_paths() -> list[str]:
    """Directories of this machine that must never reach a user, longest first."""
    paths = {sys.prefix, sys.base_prefix, tempfile.gettempdir(), str(REPO_DIR), str(Path.home())}
    return sorted((p for p in paths if p and p != os.sep), key=len, reverse=True)


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
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    # Paths this toolchain's compilers may read (and execute), besides the job's own.
    reads: tuple[str, ...] = ()
    # Shared paths its compilers must write (Zig's cache): the job's own directory aside.
    writes: tuple[str, ...] = ()
    # Host paths in messages, longest first, and what users see instead.
    path_labels: dict[str, str] = field(default_factory=dict)
    _idle: list[CompilerProcess] = field(default_factory=list, repr=False)
    _all: list[CompilerProcess] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    warmup_source: ClassVar[str] = ""

    def policy(self, timeout: float) -> Policy:
        """The sandbox of one compile (the worker adds the job's own directory)."""
        return self.sandbox.policy(timeout=timeout, read=self.reads).allowing(write=self.writes)

    def warm_policy(self) -> Policy:
        """The sandbox of a warm compiler process, set once for its whole life."""
        return replace(self.policy(timeout=0), cpu_seconds=WARM_CPU_SECONDS)

    def process_argv(self) -> list[str]:
        return self.argv

    def new_process(self) -> CompilerProcess:
        return CompilerProcess(self.process_argv(), cwd=str(self.cwd), env={**BASE_ENV, **self.env})

    def request(self, source: str, timeout: float) -> dict:
        return {
            "source": source,
            "language": self.language,
            "policy": self.policy(timeout).to_json(),
        }

    def warm_up(self, timeout: float) -> None:
        """Start the compiler and compile a tiny program, so the first job is fast."""
        if self.warmup_source:
            self.compile(self.warmup_source, timeout=timeout)

    def compile(self, source: str, *, timeout: float) -> CompileOutput:
        process = self._acquire()
        try:
            output = process.compile(self.request(source, timeout), timeout=timeout)
        except SourceCrashed as crash:
            raise SourceCrashed(self.clean_message(str(crash))) from crash
        finally:
            self._release(process)
        if output.ok:
            return output
        return CompileOutput(ok=False, error=self.clean_message(output.error or ""))

    def clean_message(self, text: str) -> str:
        """Compiler text for users: no colours, no paths of this machine."""
        text = _ANSI.sub("", text)
        text = text.replace(str(self.cwd) + os.sep, "").replace(str(self.cwd), "")
        for path, label in sorted(self.path_labels.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(path, label)
        for path in host_paths():
            text = text.replace(path + os.sep, "").replace(path, "")
        return text.strip() or "compilation failed"

    def pids(self) -> list[int]:
        """Process ids of this toolchain's compiler processes (for tests and diagnostics)."""
        return [pid for process in list(self._all) if (pid := process.pid) is not None]

    def close(self) -> None:
        with self._lock:
            processes, self._all, self._idle = self._all, [], []
        for process in processes:
            process.close()

    def _acquire(self) -> CompilerProcess:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            process = self.new_process()
            self._all.append(process)
            return process

    def _release(self, process: CompilerProcess) -> None:
        with self._lock:
            if process in self._all:
                self._idle.append(process)
