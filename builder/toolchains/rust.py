"""Rust: `lib.rs` with `pub fn handle(event: serde_json::Value) -> Result<serde_json::Value,
String>`, compiled by Debian's rustc for wasm32-wasi (rust_worker.py).

The crates a function may use — serde (with derive), serde_json — and Nil's runtime crate
(data/rust/nil.rs: the raw UTF-8 ABI's `alloc`, the JSON glue, the panic hook) are built
once per builder by cargo, offline, from Debian's packages (a directory source), into a
shared target directory (NIL_RUST_DIR). A function's build is then one rustc of lib.rs
alone, linking those: ~0.5-0.8 s here instead of ~15 s. Builds read that directory and
write only their own: no Cargo.toml, so no build script and no proc-macro crate of the
user's can exist, and every rustc (and the one cargo build of the trusted crates) runs
confined by the build sandbox like any other compiler.

Debian's packages (RUST_PACKAGES) are installed by the builder image and by `make setup`
where apt is available. Without them the language stays listed but each build fails at
once naming the packages; the builder itself runs on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from builder.compiler_process import CompileOutput
from builder.sandbox import BASE_ENV
from builder.sandbox.confine import SYSTEM_LIBRARIES
from builder.settings import Settings
from builder.toolchains.base import TOOLCHAIN_DIR, Toolchain, worker_argv
from builder.toolchains.zig import own_cache

DATA = TOOLCHAIN_DIR / "data" / "rust"
RUSTC = "/usr/bin/rustc"  # Debian's, by path: a rustup toolchain on PATH lacks wasm32-wasi
CARGO = "/usr/bin/cargo"
REGISTRY = "/usr/share/cargo/registry"  # Debian's crates
SYSROOT = "/usr/lib/rustlib"
RUST_PACKAGES = (
    "rustc",
    "cargo",
    "libstd-rust-dev-wasm32",
    "lld-14",
    "librust-serde-json-dev",
    "librust-serde-derive-dev",
)
_NEEDED = {
    RUSTC: "rustc",
    CARGO: "cargo",
    f"{SYSROOT}/wasm32-wasi/lib": "libstd-rust-dev-wasm32",
    "/usr/bin/rust-lld": "lld-14",
}
_CRATES = {"serde_json-": "librust-serde-json-dev", "serde_derive-": "librust-serde-derive-dev"}


def missing_packages() -> list[str]:
    """The Debian packages this machine lacks for Rust functions (none: it can build)."""
    missing = [package for path, package in _NEEDED.items() if not os.path.exists(path)]
    crates = os.listdir(REGISTRY) if os.path.isdir(REGISTRY) else []
    for prefix, package in _CRATES.items():
        if not any(name.startswith(prefix) for name in crates):
            missing.append(package)
    return missing


def unavailable_message(missing: list[str]) -> str:
    return (
        "Rust is not available on this builder: it needs Debian's packages "
        f"{', '.join(missing)} (apt-get install --no-install-recommends "
        f"{' '.join(RUST_PACKAGES)})"
    )


@dataclass
class Rust(Toolchain):
    warmup_source = (
        "use serde::Deserialize;\nuse serde_json::{json, Value};\n\n"
        "#[derive(Deserialize)]\nstruct Numbers { a: i64 }\n\n"
        "pub fn handle(event: Value) -> Result<Value, String> {\n"
        "    let n: Numbers = serde_json::from_value(event).map_err(|e| e.to_string())?;\n"
        '    println!("{}", n.a);\n    Ok(json!({ "a": n.a }))\n}\n'
    )

    rust_dir: str = ""  # the shared target directory (NIL_RUST_DIR)

    def request(self, source: str, timeout: float) -> dict:
        return {**super().request(source, timeout), "rust_dir": self.rust_dir}

    def compile(self, source: str, *, timeout: float) -> CompileOutput:
        missing = missing_packages()
        if missing:
            return CompileOutput(ok=False, error=unavailable_message(missing))
        return super().compile(source, timeout=timeout)

    def clean_message(self, text: str) -> str:
        text = super().clean_message(text)
        text = re.sub(
            r"\n*error: aborting due to (?:\d+ )?previous errors?(?:; \d+ warnings? emitted)?",
            "",
            text,
        )
        return re.sub(
            r"\n*For more information about (?:this|an) error.*$", "", text, flags=re.S
        ).strip()

    def warm_up(self, timeout: float) -> None:
        if missing_packages():
            return  # each build says what is missing
        super().warm_up(timeout)


def toolchains(settings: Settings) -> list[Toolchain]:
    sandbox = settings.sandbox_config()
    rust_dir = settings.rust_dir
    if not missing_packages() and not _prebuilt(rust_dir):
        own_cache(rust_dir, sandbox)  # the confined cargo build writes it (as root: its uid)
    return [
        Rust(
            language="rust",
            argv=worker_argv("rust_worker.py"),
            entry_name="lib.rs",
            comment="//",
            env=dict(BASE_ENV),
            sandbox=sandbox,
            reads=(RUSTC, "/usr/bin/rust-lld", str(DATA), *SYSTEM_LIBRARIES),
            rust_dir=rust_dir,
            path_labels={
                f"{rust_dir}/target": "rust-deps",
                rust_dir: "rust-deps",
                REGISTRY: "crates",
                SYSROOT: "rustlib",
            },
        )
    ]


def _prebuilt(rust_dir: str) -> bool:
    """A directory built ahead of time (the image's) is only read."""
    return Path(rust_dir, "deps.json").is_file() and not os.access(rust_dir, os.W_OK)
