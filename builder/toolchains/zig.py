"""C and Zig: compiled for wasm32-wasi by the `ziglang` package (zig_worker.py).

Zig keeps compiled libc and its standard library in a global cache; the warm-up builds
them once (tens of seconds on a cold cache), after which a build takes well under a
second (C) or about one (Zig). NIL_ZIG_CACHE_DIR says where that cache lives.

Each build's `zig` runs in a fresh sandboxed process that may read the `ziglang` package
and write its job directory and that cache (Zig must update the cache, and its entries
depend on the cache's path, so it cannot be a per-job copy). As root, the cache belongs
to the sandbox's uid and lives where that uid can reach it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from builder.sandbox import BASE_ENV, SandboxConfig, prepare_directory
from builder.settings import Settings
from builder.toolchains.base import Toolchain, worker_argv

ZIGLANG_DIR = Path(__file__).resolve().parent  # replaced below when ziglang is installed
try:
    import ziglang

    ZIGLANG_DIR = Path(ziglang.__file__).resolve().parent
except ImportError:  # pragma: no cover - the builder's dependencies include it
    pass


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


def own_cache(cache_dir: str, sandbox: SandboxConfig) -> None:
    """As root, the cache belongs to the uid the compilers run as."""
    if not sandbox.drops_privileges:
        return
    path = Path(cache_dir)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise ValueError(f"the Zig cache {cache_dir} must be a directory")
    if path.stat().st_uid != sandbox.uid:
        prepare_directory(path, sandbox)


def toolchains(settings: Settings) -> list[Toolchain]:
    sandbox = settings.sandbox_config()
    cache = settings.zig_cache_dir
    seed_cache(settings.zig_cache_seed, cache)
    own_cache(cache, sandbox)
    common = {
        "argv": worker_argv("zig_worker.py"),
        "comment": "//",
        "env": {**BASE_ENV, "ZIG_GLOBAL_CACHE_DIR": cache},
        "sandbox": sandbox,
        "reads": (str(ZIGLANG_DIR),),
        "writes": (cache,),
        "path_labels": {
            str(ZIGLANG_DIR / "lib"): "zig/lib",
            str(ZIGLANG_DIR): "zig",
            cache: "zig-cache",
        },
    }
    return [
        C(language="c", entry_name="function.c", **common),
        Zig(language="zig", entry_name="function.zig", **common),
    ]
