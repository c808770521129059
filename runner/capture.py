"""What a function prints during one call: stdout, stderr and console lines, in the order
written, capped. A capped log ends with a marker, so a reader knows it was cut."""

from __future__ import annotations

import threading

TRUNCATION_MARKER = "\n[logs truncated]"


class OutputCapture:
    """Thread-safe: WASI streams of components are written from wasmtime's own threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data = bytearray()
        self._truncated = False
        self._stderr_tail = b""
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._truncated:
                return
            room = self.max_bytes - len(self._data)
            if len(data) > room:
                self._data += data[:room]
                self._truncated = True
            else:
                self._data += data

    def write_stderr(self, data: bytes) -> None:
        """stderr goes to the same log; its tail is kept to explain a trap."""
        with self._lock:
            self._stderr_tail = (self._stderr_tail + data)[-4096:]
        self.write(data)

    def trap_hint(self) -> str | None:
        """What the function said on stderr before it trapped: a Zig panic, or the last
        line (C's `fprintf(stderr, ...); abort();`)."""
        with self._lock:
            tail = self._stderr_tail.decode("utf-8", "replace")
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        panics = [line for line in lines if line.startswith("panic: ")]
        hint = panics[-1] if panics else (lines[-1] if lines else None)
        return hint[:300] if hint else None

    def line(self, text: str) -> None:
        """A whole line (AssemblyScript's console.log, trace)."""
        self.write(text.encode("utf-8", "replace") + b"\n")

    def text(self) -> str | None:
        """None when nothing was printed. Stored as PostgreSQL text: no NUL, valid UTF-8."""
        with self._lock:
            if not self._data and not self._truncated:
                return None
            text = bytes(self._data).decode("utf-8", "replace").replace("\x00", "\ufffd")
            return text + TRUNCATION_MARKER if self._truncated else text
