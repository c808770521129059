"""The line protocol every compiler process speaks: one JSON request per line on stdin,
one JSON reply per line on stdout: {"ok": true, "wasm": base64}, {"ok": false, "error"}
(the source's errors), {"ok": false, "limit": "memory" | "cpu" | "output" | "disk"} (the
build hit that limit), {"ok": false, "crash"} (the compiler crashed on this source: not
retried) or {"ok": false, "fault"} (the compiler was killed: retried)."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable

from builder.compiler_process import WARNING_PREFIX


def ok(wasm: bytes) -> dict:
    return {"ok": True, "wasm": base64.b64encode(wasm).decode()}


def failed(error: str) -> dict:
    return {"ok": False, "error": error}


def limited(limit: str) -> dict:
    return {"ok": False, "limit": limit}


def crashed(message: str) -> dict:
    return {"ok": False, "crash": message}


def faulted(reason: str) -> dict:
    return {"ok": False, "fault": reason}


def warn(message: str) -> None:
    """Something the builder's operators should see (the build itself goes on)."""
    print(WARNING_PREFIX + message.replace("\n", " "), file=sys.stderr, flush=True)


def serve(compile_one: Callable[[dict], dict]) -> None:
    # Replies go to the original stdout only: whatever a compiler prints lands on stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        try:
            reply = compile_one(json.loads(line))
        except Exception as exc:  # a reply for every request, whatever happens
            reply = failed(f"compiler error: {exc}")
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
