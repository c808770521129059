"""Hand-written WAT modules for the runner tests, each a raw-UTF-8 ABI function."""

from __future__ import annotations

ALLOC = """
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $ptr))"""


def raw_module(handle_body: str, *, memory: str = "1", extra: str = "", imports: str = "") -> str:
    """A module whose `handle(ptr, len) -> i64` runs `handle_body`."""
    return f"""(module
  {imports}
  (memory (export "memory") {memory})
  {ALLOC}
  {extra}
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    {handle_body}))"""


def returns_bytes(data: bytes) -> str:
    """A module that returns `data` (placed at offset 16)."""
    escaped = "".join(f"\\{b:02x}" for b in data)
    return raw_module(
        f"(i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {len(data)}))",
        extra=f'(data (i32.const 16) "{escaped}")',
    )


ECHO = raw_module(
    "(i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))"
    " (i64.extend_i32_u (local.get $len)))"
)
INFINITE_LOOP = raw_module("(loop $l (br $l)) (i64.const 0)")
BUSY_LOOP = raw_module(
    "(local $i i32) (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))"
    " (i64.const 0)"
)
MEMORY_BOMB = raw_module(
    "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable"
)
DEEP_RECURSION = raw_module(
    "(call $recurse (i32.const 0)) (i64.const 0)",
    extra="(func $recurse (param i32) (call $recurse (i32.add (local.get 0) (i32.const 1))))",
)
UNREACHABLE = raw_module("unreachable")
DIVIDE_BY_ZERO = raw_module("(i64.extend_i32_u (i32.div_u (i32.const 1) (i32.const 0)))")
NO_HANDLE = f'(module (memory (export "memory") 1) {ALLOC})'
UNKNOWN_IMPORT = raw_module(
    "(call $exec) (i64.const 0)", imports='(import "env" "exec" (func $exec))'
)
NOT_JSON = returns_bytes(b"this is not json")
INVALID_UTF8 = returns_bytes(b'"\xff\xfe"')
TEN_MB_OUTPUT = raw_module(
    "(i64.or (i64.shl (i64.const 0) (i64.const 32)) (i64.const 10000000))", memory="160"
)
START_LOOP = f"""(module
  (memory (export "memory") 1)
  {ALLOC}
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))"""


def sleeper(milliseconds: int) -> str:
    """A WASI module (language "c") that sleeps through `poll_oneoff` — one relative
    monotonic clock subscription, as C's nanosleep makes — then echoes its input."""
    return raw_module(
        f"""(i32.store8 (i32.const 72) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const {milliseconds * 1_000_000}))
    (i64.store (i32.const 96) (i64.const 0))
    (i32.store16 (i32.const 104) (i32.const 0))
    (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 192)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len)))""",
        imports='(import "wasi_snapshot_preview1" "poll_oneoff"'
        " (func $poll (param i32 i32 i32 i32) (result i32)))",
    )
