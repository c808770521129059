"""Builds C and Zig functions for wasm32-wasi with the `ziglang` package (toolchains' line
protocol). C is a reactor (no main; `_initialize` runs constructors); Zig builds with
no entry point. Both link against WASI preview 1, whose stdout and stderr the runner
captures. nil.h / nil.zig are placed next to the source."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from builder.toolchains.worker_protocol import failed, ok, serve

DATA = Path(__file__).resolve().parent / "data"
ZIG = [sys.executable, "-m", "ziglang"]


def command(language: str) -> list[str]:
    if language == "c":
        return [
            *(*ZIG, "cc", "--target=wasm32-wasi", "-mexec-model=reactor"),
            *("-O2", "-s", "-std=c17", "-fno-color-diagnostics", "-o", "function.wasm"),
            "function.c",
        ]
    return [
        *(*ZIG, "build-exe", "function.zig", "-target", "wasm32-wasi"),
        *("-fno-entry", "-rdynamic", "-O", "ReleaseSmall", "-fstrip"),
        *("--color", "off", "-femit-bin=function.wasm"),
    ]


def compile_one(request: dict) -> dict:
    language = request["language"]
    with tempfile.TemporaryDirectory(prefix=f"nil-{language}-") as tmp:
        work = Path(tmp)
        helper = DATA / language / ("nil.h" if language == "c" else "nil.zig")
        (work / helper.name).write_bytes(helper.read_bytes())
        (work / f"function.{language}").write_text(request["source"], encoding="utf-8")
        env = {**os.environ, "ZIG_LOCAL_CACHE_DIR": str(work / "zig-cache")}
        done = subprocess.run(
            command(language), cwd=tmp, env=env, capture_output=True, text=True, errors="replace"
        )
        wasm = work / "function.wasm"
        if done.returncode != 0 or not wasm.exists():
            text = (done.stderr + done.stdout).replace(tmp + os.sep, "").replace(tmp, "")
            return failed(text.strip() or f"the {language} build failed")
        return ok(wasm.read_bytes())


if __name__ == "__main__":
    serve(compile_one)
