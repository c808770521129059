"""The runner protocol's frames, shared by the runner (runner/server.py) and its client
(common/runners/transport.py). What a frame carries is the wire contract of
common/contracts.py; this module only says how it is cut into bytes.

A connection carries any number of request/reply pairs (keep-alive), one at a time.
Every frame is an 11-byte header, then a JSON head, then a binary body:

    magic b"N1" | kind: u8 | head length: u32 | body length: u32 | head | body

Requests and the replies each may get:

    EXECUTE  head: sha256, limits  body: the input (JSON text, UTF-8)
             → RESULT (head: the reply less its output; body: the output)
             → NOT_CACHED (send LOAD on this connection: the runner stays reserved
               for it), BUSY, DRAINING, ERROR
    LOAD     head: sha256, language, hold  body: the .wasm bytes
             → LOADED (with `hold`, still reserved for the EXECUTE that follows),
               REJECTED (head: error), BUSY, DRAINING, ERROR
    HEALTH   → HEALTHY (head: RunnerHealth), answered at any time, mid-call too

BUSY and DRAINING mean the runner did not start the call: try another runner.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

MAGIC = b"N1"
HEADER = struct.Struct("!2sBII")
MAX_HEAD_BYTES = 1024 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
_SMALL = 64 * 1024  # frames up to this size go out in one write


class Kind(IntEnum):
    EXECUTE = 1
    LOAD = 2
    HEALTH = 3
    RESULT = 16
    NOT_CACHED = 17
    LOADED = 18
    REJECTED = 19
    BUSY = 20
    DRAINING = 21
    HEALTHY = 22
    ERROR = 23


class ProtocolError(Exception):
    """The peer sent bytes that are not a frame of this protocol."""


class FrameTooLarge(ProtocolError):
    """A frame over the reader's limit; its header was read, its `size` bytes were not."""

    def __init__(self, kind: int, size: int) -> None:
        super().__init__(f"frame too large ({size} bytes)")
        self.kind, self.size = kind, size


@dataclass(frozen=True)
class Frame:
    kind: Kind
    head: dict[str, Any]
    body: bytes = b""


def encode(kind: Kind, head: dict[str, Any] | None = None, body: bytes = b"") -> list[bytes]:
    """The frame as buffers to write in order (a large body is not copied)."""
    raw_head = json.dumps(head, separators=(",", ":")).encode() if head else b""
    header = HEADER.pack(MAGIC, kind, len(raw_head), len(body))
    if len(body) <= _SMALL:
        return [header + raw_head + body]
    return [header + raw_head, body]


def send(sock: socket.socket, kind: Kind, head: dict[str, Any] | None = None, body: bytes = b""):
    for part in encode(kind, head, body):
        sock.sendall(part)


class FrameReader:
    """Reads whole frames from a socket, keeping what arrived beyond the current one."""

    def __init__(self, sock: socket.socket, max_body: int = MAX_BODY_BYTES) -> None:
        self.sock = sock
        self.max_body = max_body
        self._buffer = bytearray()

    @property
    def pending(self) -> bool:
        """Bytes of a next frame already received."""
        return bool(self._buffer)

    def read(self) -> Frame | None:
        """The next frame; None when the peer closed the connection between frames."""
        if not self._fill(HEADER.size, eof_ok=True):
            return None
        magic, kind, head_len, body_len = HEADER.unpack_from(self._buffer)
        if magic != MAGIC:
            raise ProtocolError("not a Nil runner protocol frame")
        if head_len > MAX_HEAD_BYTES:
            raise ProtocolError(f"frame head too large ({head_len} bytes)")
        self._take(HEADER.size)
        if body_len > self.max_body:
            raise FrameTooLarge(kind, head_len + body_len)
        try:
            kind = Kind(kind)
        except ValueError:
            raise ProtocolError(f"unknown frame kind {kind}") from None
        self._fill(head_len)
        head = json.loads(self._take(head_len)) if head_len else {}
        if not isinstance(head, dict):
            raise ProtocolError("a frame's head must be a JSON object")
        return Frame(kind, head, self._read_body(body_len))

    def discard(self, size: int) -> None:
        """Skip `size` bytes (an oversized frame's), so the connection stays in step."""
        while size > 0:
            if not self._buffer:
                self._fill(1)
            dropped = min(size, len(self._buffer))
            del self._buffer[:dropped]
            size -= dropped

    def _read_body(self, length: int) -> bytes:
        if length <= len(self._buffer) or length <= _SMALL:
            self._fill(length)
            return bytes(self._take(length))
        body = bytearray(length)  # large: received in place, not through the buffer
        view = memoryview(body)
        have = len(self._buffer)
        view[:have] = self._buffer
        self._buffer.clear()
        while have < length:
            got = self.sock.recv_into(view[have:])
            if not got:
                raise ConnectionResetError("the connection closed inside a frame")
            have += got
        return bytes(body)

    def _fill(self, size: int, *, eof_ok: bool = False) -> bool:
        while len(self._buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                if eof_ok and not self._buffer:
                    return False
                raise ConnectionResetError("the connection closed inside a frame")
            self._buffer += chunk
        return True

    def _take(self, size: int) -> bytearray:
        taken = self._buffer[:size]
        del self._buffer[:size]
        return taken
