"""What host functions need from the call running now: its output capture, its deadline,
its clock origin and its environment (AssemblyScript's `env.nil.getenv`). Host
functions are defined once per Linker, so this comes from a thread-local — safe
because all wasm runs on the runner's one executor thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from runner.capture import OutputCapture

_call = threading.local()


class CallDeadline(Exception):
    """A host call reached the call's deadline (raised through the guest: a timeout)."""


@contextlib.contextmanager
def calling(
    capture: OutputCapture, timeout_ms: int, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Route this thread's host functions to this call: its output, its deadline, its
    environment (dropped when the call ends: the next call never sees it)."""
    _call.capture = capture
    _call.env = env or {}
    _call.deadline = time.monotonic() + timeout_ms / 1000
    _call.origin_ns = time.monotonic_ns()
    try:
        yield
    finally:
        _call.capture = None
        _call.deadline = None
        _call.env = {}


def capture() -> OutputCapture | None:
    return getattr(_call, "capture", None)


def getenv(name: str) -> str | None:
    """The running call's environment variable `name`; None outside a call."""
    return (getattr(_call, "env", None) or {}).get(name)


def deadline() -> float:
    """When the call must end (time.monotonic()); infinity outside a call."""
    return getattr(_call, "deadline", None) or float("inf")


def monotonic_ns() -> int:
    """The guest's monotonic clock: nanoseconds since its call began."""
    return time.monotonic_ns() - getattr(_call, "origin_ns", 0)
