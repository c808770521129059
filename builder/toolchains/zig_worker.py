"""Builds C and Zig functions for wasm32-wasi with the `ziglang` package (toolchains' line
protocol). C is a reactor (no main; `_initialize` runs constructors); Zig builds with
no entry point. Both link against WASI preview 1, whose stdout and stderr the runner
captures. nil.h / nil.zig are placed next to the source. Each build's `zig` runs
confined to the `ziglang` package, Zig's cache and the build's own directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ziglang

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from builder.sandbox.confine import Policy
from builder.toolchains.compile_job import job_directory, run_confined
from builder.toolchains.worker_protocol import crashed, failed, faulted, limited, ok, serve

DATA = Path(__file__).resolve().parent / "data"
ZIG_BINARY = str(Path(ziglang.__file__).resolve().parent / "zig")


def command(language: str) -> list[str]:
    if language == "c":
        return [
            *(ZIG_BINARY, "cc", "--target=wasm32-wasi", "-mexec-model=reactor"),
            *("-O2", "-s", "-std=c17", "-fno-color-diagnostics", "-fno-crash-diagnostics"),
            *("-o", "function.wasm", "function.c"),
        ]
    return [
        *(ZIG_BINARY, "build-exe", "function.zig", "-target", "wasm32-wasi"),
        *("-fno-entry", "-rdynamic", "-O", "ReleaseSmall", "-fstrip"),
        *("--color", "off", "-femit-bin=function.wasm"),
    ]


def compile_one(request: dict) -> dict:
    language = request["language"]
    with job_directory(language) as work:
        helper = DATA / language / ("nil.h" if language == "c" else "nil.zig")
        (work / helper.name).write_bytes(helper.read_bytes())
        (work / f"function.{language}").write_text(request["source"], encoding="utf-8")
        env = {
            key: os.environ[key]
            for key in ("PATH", "LANG", "ZIG_GLOBAL_CACHE_DIR")
            if key in os.environ
        }
        env["ZIG_LOCAL_CACHE_DIR"] = str(work / "zig-cache")
        done = run_confined(command(language), work, Policy.from_json(request["policy"]), env)
        if done.fault:
            return faulted(done.fault)
        if done.crash:
            return crashed(done.crash)
        if done.limit:
            return limited(done.limit)
        wasm = work / "function.wasm"
        if done.returncode != 0 or not wasm.exists():
            return failed(done.output.strip() or f"the {language} build failed")
        return ok(wasm.read_bytes())


if __name__ == "__main__":
    serve(compile_one)
