"""A warm compiler in a child process, driven one request at a time over a line protocol.

Starting Node for every AssemblyScript compile costs seconds; a warm process costs
one start. Every compile still runs in a subprocess under a time limit: a compile
that overruns is killed with its process group and the next one starts a fresh
process. Replies are capped so a hostile source cannot flood the builder.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import select
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_REPLY_BYTES = 64 * 1024 * 1024
MAX_ERROR_CHARS = 16 * 1024


class CompilerCrashed(Exception):
    """The compiler process died or broke the protocol while compiling."""


class CompileTimeout(Exception):
    """The compile ran past its time limit and was killed."""


@dataclass(frozen=True)
class CompileOutput:
    ok: bool
    wasm: bytes | None = None
    error: str | None = None


class CompilerProcess:
    def __init__(self, argv: list[str], *, cwd: str, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: deque[str] = deque(maxlen=50)
        self._lock = threading.Lock()

    def compile(self, request: dict, *, timeout: float) -> CompileOutput:
        with self._lock:
            proc = self._ensure_started()
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
                line = self._read_reply(proc, timeout)
            except CompileTimeout:
                self._kill()
                raise
            except (OSError, CompilerCrashed) as exc:
                tail = " | ".join(self._stderr_tail)[-2000:]
                self._kill()
                raise CompilerCrashed(f"{exc}; stderr: {tail}") from exc
        try:
            reply = json.loads(line)
        except ValueError as exc:
            self.close()
            raise CompilerCrashed("the compiler sent a reply that is not JSON") from exc
        if reply.get("ok"):
            return CompileOutput(ok=True, wasm=base64.b64decode(reply["wasm"]))
        return CompileOutput(ok=False, error=str(reply.get("error", ""))[:MAX_ERROR_CHARS])

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True).start()
            logger.info("compiler.started", extra={"argv": self.argv[:2], "pid": self._proc.pid})
        return self._proc

    def _read_reply(self, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CompileTimeout(f"compilation took longer than {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise CompilerCrashed(f"the compiler exited (code {proc.poll()})")
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise CompilerCrashed("the compiler's reply exceeds the output cap")
            if chunk.endswith(b"\n"):
                return b"".join(chunks)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                self._stderr_tail.append(raw.decode(errors="replace").rstrip()[:500])
        except (ValueError, OSError):  # closed by _kill
            pass

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
