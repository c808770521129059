"""WASI preview 1 for C and Zig modules, with its one blocking call bounded by the call's
deadline.

Epoch interruption only fires while wasm runs: a function blocked in a host call (C
`nanosleep`, Zig's sleep: both WASI `poll_oneoff` with a clock subscription) would sleep
past its timeout, holding the runner. So `poll_oneoff` is shadowed here: it honours clock
subscriptions (relative or absolute, realtime or monotonic) and fd subscriptions (stdin
is empty — readable at EOF —, stdout and stderr always writable, any other descriptor
is EBADF), but never sleeps past the call's deadline: there it raises `CallDeadline`,
which ends the call as a timeout. `clock_time_get` is shadowed too, so absolute
monotonic deadlines the guest computes use the same clock (nanoseconds since its call
began, as wasmtime's own clock counts from the context's creation). Everything else
is wasmtime's; no other preview 1 call can block (no files, no sockets, an empty stdin).
"""

from __future__ import annotations

import struct
import time

import wasmtime

from runner.abis import context

MODULE = "wasi_snapshot_preview1"
SUBSCRIPTION = struct.Struct("<QB7xI4xQQH6x")  # userdata, tag, clock id | fd, timeout, …
EVENT = struct.Struct("<QHB5xQH6x")  # userdata, error, type, nbytes, flags
ESUCCESS, EBADF, EFAULT, EINVAL = 0, 8, 21, 28
CLOCK, FD_READ, FD_WRITE = 0, 1, 2
REALTIME, MONOTONIC = 0, 1
ABSTIME = 1
HANGUP = 1


def define_bounded_wasi(linker: wasmtime.Linker) -> None:
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    linker.define_wasi()
    linker.allow_shadowing = True
    linker.define_func(
        MODULE,
        "poll_oneoff",
        wasmtime.FuncType([i32, i32, i32, i32], [i32]),
        poll_oneoff,
        access_caller=True,
    )
    linker.define_func(
        MODULE,
        "clock_time_get",
        wasmtime.FuncType([i32, i64, i32], [i32]),
        clock_time_get,
        access_caller=True,
    )
    linker.allow_shadowing = False


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory | None:
    memory = caller.get("memory")
    return memory if isinstance(memory, wasmtime.Memory) else None


def _fits(caller, memory: wasmtime.Memory, ptr: int, size: int) -> bool:
    return 0 <= ptr and ptr + size <= memory.data_len(caller)


def clock_time_get(caller: wasmtime.Caller, clock_id: int, precision: int, out: int) -> int:
    memory = _memory(caller)
    if memory is None or not _fits(caller, memory, out, 8):
        return EFAULT
    if clock_id == REALTIME:
        now = time.time_ns()
    elif clock_id == MONOTONIC:
        now = context.monotonic_ns()
    else:
        return EBADF  # CPU-time clocks: wasmtime does not offer them either
    memory.write(caller, struct.pack("<Q", now), out)
    return ESUCCESS


def poll_oneoff(caller: wasmtime.Caller, in_ptr: int, out_ptr: int, count: int, nout: int) -> int:
    memory = _memory(caller)
    if count <= 0:
        return EINVAL
    if (
        memory is None
        or not _fits(caller, memory, in_ptr, count * SUBSCRIPTION.size)
        or not _fits(caller, memory, out_ptr, count * EVENT.size)
        or not _fits(caller, memory, nout, 4)
    ):
        return EFAULT
    raw = bytes(memory.read(caller, in_ptr, in_ptr + count * SUBSCRIPTION.size))
    events: list[bytes] = []
    clocks: list[tuple[float, int]] = []  # (due, userdata)
    now = time.monotonic()
    for i in range(count):
        userdata, tag, ident, timeout, _precision, flags = SUBSCRIPTION.unpack_from(
            raw, i * SUBSCRIPTION.size
        )
        if tag == CLOCK:
            due = _due(now, ident, timeout, flags)
            if due is None:
                events.append(EVENT.pack(userdata, EINVAL, CLOCK, 0, 0))
            else:
                clocks.append((due, userdata))
        elif tag in (FD_READ, FD_WRITE):
            events.append(_fd_event(userdata, tag, ident))
        else:
            events.append(EVENT.pack(userdata, EINVAL, tag, 0, 0))
    if not events and clocks:
        wake = min(due for due, _ in clocks)
        limit = context.deadline()
        if wake > limit:  # the call ends first: sleep to its deadline, and stop it
            time.sleep(max(0.0, limit - time.monotonic()))
            raise context.CallDeadline()
        time.sleep(max(0.0, wake - time.monotonic()))
    now = time.monotonic()
    events += [
        EVENT.pack(userdata, ESUCCESS, CLOCK, 0, 0) for due, userdata in clocks if due <= now
    ]
    memory.write(caller, b"".join(events), out_ptr)
    memory.write(caller, struct.pack("<I", len(events)), nout)
    return ESUCCESS


def _due(now: float, clock_id: int, timeout: int, flags: int) -> float | None:
    """When a clock subscription fires, on time.monotonic(); None for an unknown clock."""
    if not flags & ABSTIME:
        return now + timeout / 1e9 if clock_id in (REALTIME, MONOTONIC) else None
    if clock_id == REALTIME:
        return now + (timeout - time.time_ns()) / 1e9
    if clock_id == MONOTONIC:
        return now + (timeout - context.monotonic_ns()) / 1e9
    return None


def _fd_event(userdata: int, tag: int, fd: int) -> bytes:
    if tag == FD_READ and fd == 0:  # stdin is empty: readable, at its end
        return EVENT.pack(userdata, ESUCCESS, tag, 0, HANGUP)
    if tag == FD_WRITE and fd in (1, 2):  # captured: always writable
        return EVENT.pack(userdata, ESUCCESS, tag, 0, 0)
    return EVENT.pack(userdata, EBADF, tag, 0, 0)
