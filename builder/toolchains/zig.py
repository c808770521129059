"""C and Zig: compiled for wasm32-wasi by the `ziglang` package (zig_worker.py).

Zig keeps compiled libc and its standard library in a global cache; the warm-up builds
them once (tens of seconds on a cold cache), after which a build takes well under a
second (C) or about one (Zig). The builder's settings say where that cache lives.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from builder.settings import Settings
from builder.toolchains.base import Toolchain, worker_argv


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


def seed_cache(seed: str, cache_dir: str) -> None:
    """Start from the cache the image built (NIL_ZIG_CACHE_SEED), copied to a writable
    place: Zig writes to its cache even when everything it needs is there."""
    target = Path(cache_dir)
    if not seed or target.exists() or not Path(seed).is_dir():
        return
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.copytree(seed, partial, symlinks=True)
    try:
        partial.rename(target)
    except OSError:  # another process seeded it first
        shutil.rmtree(partial, ignore_errors=True)


def toolchains(settings: Settings) -> list[Toolchain]:
    seed_cache(settings.zig_cache_seed, settings.zig_cache_dir)
    argv = worker_argv("zig_worker.py")
    env = {"ZIG_GLOBAL_CACHE_DIR": settings.zig_cache_dir} if settings.zig_cache_dir else {}
    return [
        C(language="c", argv=argv, entry_name="function.c", comment="//", env=env),
        Zig(language="zig", argv=argv, entry_name="function.zig", comment="//", env=env),
    ]
