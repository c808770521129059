"""What a function prints during one call: stdout, stderr and console lines, in the order
written, capped. A capped log ends with a marker, so a reader knows it was cut.

The call's secret values (`redact`) are replaced before the log is cut (SPEC §12): the
capture keeps `slack` bytes past the cap — the longest spelling of a value — so a value
that straddles the cap is seen whole and redacted, not half stored.
"""

from __future__ import annotations

import threading

from common.redaction import largest_form_bytes, redact, redact_cut

TRUNCATION_MARKER = "\n[logs truncated]"
# what a Rust runtime (componentize-py's) prints after its panic: never the hint
RUST_BACKTRACE_NOTE = "note: run with `RUST_BACKTRACE=1`"


class OutputCapture:
    """Thread-safe: WASI streams of components are written from wasmtime's own threads."""

    def __init__(self, max_bytes: int, redact_values: tuple[str, ...] = ()) -> None:
        self.max_bytes = max_bytes
        self.redact_values = redact_values
        self._keep = max_bytes + largest_form_bytes(redact_values)
        self._data = bytearray()
        self._truncated = False
        self._stderr_tail = b""
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            room = self._keep - len(self._data)
            if room > 0:
                self._data += data[:room]
            if len(self._data) + max(0, len(data) - room) > self.max_bytes:
                self._truncated = True

    def write_stderr(self, data: bytes) -> None:
        """stderr goes to the same log; its tail is kept to explain a trap."""
        with self._lock:
            self._stderr_tail = (self._stderr_tail + data)[-4096:]
        self.write(data)

    def trap_hint(self) -> str | None:
        """What the function said on stderr before it trapped: a Zig panic, or the last
        line (C's `fprintf(stderr, ...); abort();`)."""
        with self._lock:
            tail = redact(self._stderr_tail.decode("utf-8", "replace"), self.redact_values)
        assert tail is not None
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith(RUST_BACKTRACE_NOTE)]
        panics = [line for line in lines if line.startswith("panic: ")]
        hint = panics[-1] if panics else (lines[-1] if lines else None)
        if hint and len(hint) > 300:
            return redact_cut(hint[:300], self.redact_values)
        return hint

    def line(self, text: str) -> None:
        """A whole line (AssemblyScript's console.log, trace)."""
        self.write(text.encode("utf-8", "replace") + b"\n")

    def text(self) -> str | None:
        """None when nothing was printed. Stored as PostgreSQL text: no NUL, valid UTF-8."""
        with self._lock:
            if not self._data and not self._truncated:
                return None
            data = bytes(self._data)
        text = redact(data.decode("utf-8", "replace"), self.redact_values) or ""
        if self._truncated:  # cut at the cap, counted in bytes of the redacted text
            text = text.encode()[: self.max_bytes].decode("utf-8", "ignore")
            text = redact_cut(text, self.redact_values)
        text = text.replace("\x00", "\ufffd")
        return text + TRUNCATION_MARKER if self._truncated else text
