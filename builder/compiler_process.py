"""A warm compiler in a child process, driven one request at a time over a line protocol.

Starting Node for every AssemblyScript compile costs seconds; a warm process costs
one start. Every compile still runs in a subprocess under a time limit: a compile
that overruns is killed with its process group and the next one starts a fresh
process. Replies are capped so a hostile source cannot flood the builder.

How a compile ends is one of: a reply (success or the source's errors), a limit of the
build (`LimitExceeded`: memory, CPU time, output size — reported by the compiler process
or read from how it died), the wall-clock limit (`CompileTimeout`), a crash of the compiler
on this source (`SourceCrashed`: a crash signal of its own, or a crash report and exit, while
compiling it — deterministic, so the build fails; a warm process that had served other
builds first gets one more try in a fresh process, in case an earlier build broke it),
or a platform fault (`CompilerCrashed`: killed by a signal nobody in the build asked
for, such as the OOM killer's SIGKILL), which is retried.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass

from builder.sandbox.confine import cpu_seconds
from builder.sandbox.outcome import OUTPUT, PlatformFault, SourceCrash, crash_message, limit_hit

# A line on a compiler's stderr that starts with this is logged (`compiler.warning`);
# the rest of its stderr is only kept for when it crashes.
WARNING_PREFIX = "nil-warning: "

logger = logging.getLogger(__name__)

MAX_REPLY_BYTES = 48 * 1024 * 1024  # a 32 MiB module in base64, and some
MAX_ERROR_CHARS = 16 * 1024


class CompilerCrashed(Exception):
    """The compiler process died or broke the protocol while compiling: a platform fault."""


class SourceCrashed(Exception):
    """The compiler crashed on its own compiling this source: the build fails, unretried.
    `worn` says the process had served other builds before (worth one fresh try)."""

    def __init__(self, message: str, *, worn: bool = False) -> None:
        super().__init__(message)
        self.worn = worn


_ERROR_LINE = re.compile(r"\b((?:[A-Z]\w*)?Error: [^\n]{0,200})")
# What a compiler prints when it gives up on a source by itself (a non-zero exit with none
# of these, such as a worker that cannot start, stays a platform fault).
_CRASH_REPORT = re.compile(
    r"Maximum call stack size exceeded|stack overflow|compiler has crashed|RecursionError"
    r"|panicked at|fatal runtime error",
    re.IGNORECASE,
)


class LimitExceeded(Exception):
    """The build ran into one of its limits (memory, cpu, output)."""

    def __init__(self, limit: str) -> None:
        super().__init__(f"the build exceeded its {limit} limit")
        self.limit = limit


class CompileTimeout(Exception):
    """The compile ran past its time limit and was killed."""


@dataclass(frozen=True)
class CompileOutput:
    ok: bool
    wasm: bytes | None = None
    error: str | None = None


class CompilerProcess:
    def __init__(
        self,
        argv: list[str],
        *,
        cwd: str,
        env: dict[str, str] | None = None,
        cpu_lifetime: int | None = None,
    ) -> None:
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.cpu_lifetime = cpu_lifetime  # the RLIMIT_CPU a confined warm process starts with
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: deque[str] = deque(maxlen=50)
        self._stderr_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._served = 0  # requests the running process answered

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def compile(self, request: dict, *, timeout: float) -> CompileOutput:
        with self._lock:
            started = time.monotonic()
            try:
                line = self._exchange(request, timeout)
            except SourceCrashed as crash:
                left = timeout - (time.monotonic() - started)
                if not crash.worn or left <= 1:
                    raise
                # It had served other builds: one try in a fresh process, within the same
                # time limit, tells this source from the damage of an earlier build.
                logger.warning("compiler.crashed_retrying", extra={"argv": self.argv[:2]})
                line = self._exchange(request, left)
            self._served += 1
        try:
            reply = json.loads(line)
        except ValueError as exc:
            self.close()
            raise CompilerCrashed("the compiler sent a reply that is not JSON") from exc
        if reply.get("ok"):
            return CompileOutput(ok=True, wasm=base64.b64decode(reply["wasm"]))
        if reply.get("limit"):
            raise LimitExceeded(str(reply["limit"]))
        if reply.get("fault"):
            raise CompilerCrashed(str(reply["fault"]))
        if reply.get("crash"):
            raise SourceCrashed(str(reply["crash"])[:MAX_ERROR_CHARS])
        return CompileOutput(ok=False, error=str(reply.get("error", ""))[:MAX_ERROR_CHARS])

    def _exchange(self, request: dict, timeout: float) -> bytes:
        """Send one request and read its reply line (the lock held)."""
        proc = self._ensure_started(timeout)
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            return self._read_reply(proc, timeout)
        except (CompileTimeout, LimitExceeded):
            self._kill()
            raise
        except (OSError, CompilerCrashed) as exc:
            self._raise_for_exit(proc, exc)
            raise AssertionError("unreachable") from exc

    def _raise_for_exit(self, proc: subprocess.Popen[bytes], exc: Exception) -> None:
        """The process is gone (or broke the protocol): a limit of the build, or a fault."""
        try:
            returncode = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            returncode = None
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        tail = "\n".join(self._stderr_tail)
        served = self._served
        self._kill()
        try:
            limit = limit_hit(returncode, tail)
        except PlatformFault as fault:
            raise CompilerCrashed(f"{fault}; stderr: {tail[-2000:]}") from exc
        except SourceCrash as crash:
            raise SourceCrashed(_crashed(crash.what, tail), worn=served > 0) from exc
        if limit is not None:
            raise LimitExceeded(limit) from exc
        if returncode is not None and returncode > 0 and _CRASH_REPORT.search(tail):
            # it gave up on this source by itself (a stack overflow, a panic)
            message = _crashed(f"exit code {returncode}", tail)
            raise SourceCrashed(message, worn=served > 0) from exc
        raise CompilerCrashed(f"{exc} (exit {returncode}); stderr: {tail[-2000:]}") from exc

    def _cpu_left(self, proc: subprocess.Popen[bytes]) -> float:
        """CPU seconds the process may still use before its RLIMIT_CPU stops it."""
        assert self.cpu_lifetime is not None
        try:
            with open(f"/proc/{proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return self.cpu_lifetime - used

    def close(self) -> None:
        """Kill the process now, even mid-compile (that compile fails as a platform fault)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        with self._lock:
            self._kill()

    def _ensure_started(self, timeout: float) -> subprocess.Popen[bytes]:
        """The warm process, replaced first if a request could run out of its CPU time
        (so a warm process's RLIMIT_CPU can only ever stop a request that used it all)."""
        if (
            self._proc is not None
            and self.cpu_lifetime is not None
            and self._cpu_left(self._proc) < cpu_seconds(timeout)
        ):
            self._kill()
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
            self._stderr_tail.clear()
            self._served = 0
            self._stderr_thread = threading.Thread(
                target=self._drain_stderr, args=(self._proc,), daemon=True
            )
            self._stderr_thread.start()
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
                raise LimitExceeded(OUTPUT)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                if line.startswith(WARNING_PREFIX):
                    message = line[len(WARNING_PREFIX) :][:2000]
                    logger.warning("compiler.warning", extra={"detail": message})
                self._stderr_tail.append(line[:500])
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


def _crashed(what: str, stderr: str) -> str:
    """The user's message, with the last error line the compiler printed (a stack
    overflow's `RangeError: Maximum call stack size exceeded`), if any."""
    found = _ERROR_LINE.findall(stderr)
    return crash_message(f"{what}: {found[-1].strip()}" if found else what)
