"""C and Zig: compiled for wasm32-wasi by the `ziglang` package (zig_worker.py).

Zig keeps compiled libc and its standard library in a global cache; the warm-up builds
them once (tens of seconds on a cold cache), after which a build takes well under a
second (C) or about one (Zig). NIL_ZIG_CACHE_DIR says where that cache lives.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from builder.toolchains.base import TOOLCHAIN_DIR, Toolchain


def zig_cache_dir() -> str:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nil" / "zig"
    return os.environ.get("NIL_ZIG_CACHE_DIR") or str(default)


class C(Toolchain):
    warmup_source = (
        '#include <stdio.h>\n#include "nil.h"\n'
        "NIL_HANDLE uint64_t handle(const char *in, uint32_t len) {\n"
        '    printf("%u\\n", len);\n    return nil_output(in, len);\n}\n'
    )


class Zig(Toolchain):
    warmup_source = (
        'const std = @import("std");\nconst nil = @import("nil.zig");\n'
        "comptime { _ = nil; }\n"
        "export fn handle(ptr: [*]const u8, len: u32) u64 {\n"
        '    std.debug.print("{d}\\n", .{len});\n    return nil.output(nil.input(ptr, len));\n}\n'
    )


def toolchains() -> list[Toolchain]:
    argv = [sys.executable, str(TOOLCHAIN_DIR / "zig_worker.py")]
    env = {"ZIG_GLOBAL_CACHE_DIR": zig_cache_dir()}
    return [
        C(language="c", argv=argv, entry_name="function.c", env=env),
        Zig(language="zig", argv=argv, entry_name="function.zig", env=env),
    ]
