"""Builds Rust functions for wasm32-wasi with Debian's rustc (toolchains' line protocol).

The shared target directory (the request's `rust_dir`) holds serde, serde_json and Nil's
runtime crate (data/rust/nil.rs), built once by cargo, offline, from Debian's packages
(`deps.json` names the artifacts; it is rebuilt when Nil's crate, its manifest or rustc
change). That build runs confined: it may read the toolchain and Debian's crates and
write only that directory. A function's build is one confined rustc in a fresh job
directory holding lib.rs (the function, with `mod nil_platform;` appended: its last line,
so every line of the function keeps its number) and nil_platform.rs; it may read the
shared directory and write nothing but its own.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from builder.sandbox.confine import Policy
from builder.toolchains.compile_job import job_directory, run_confined
from builder.toolchains.worker_protocol import crashed, failed, faulted, limited, ok, serve

DATA = Path(__file__).resolve().parent / "data" / "rust"
RUSTC = "/usr/bin/rustc"
CARGO = "/usr/bin/cargo"
REGISTRY = "/usr/share/cargo/registry"
HOST_LINKER = ("/usr/bin", "/usr/libexec")  # cc, collect2, ld
TARGET = "wasm32-wasi"
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "RUSTC": RUSTC}
CARGO_CONFIG = f"""\
[source.crates-io]
replace-with = "debian-packages"

[source.debian-packages]
directory = "{REGISTRY}"

[net]
offline = true
"""


@functools.cache
def fingerprint() -> str:
    version = subprocess.run([RUSTC, "-vV"], capture_output=True, text=True, env=ENV).stdout
    digest = hashlib.sha256(version.encode())
    for name in ("deps.toml", "nil.rs"):
        digest.update((DATA / name).read_bytes())
    return digest.hexdigest()


def prepared(rust_dir: Path, policy: Policy) -> dict | str:
    """The shared crates' manifest, built first if missing or stale; else the error."""
    manifest = rust_dir / "deps.json"
    wanted = fingerprint()
    try:
        found = json.loads(manifest.read_text())
        if found.get("fingerprint") == wanted:
            return found
    except (OSError, ValueError):
        pass
    with open(rust_dir / ".lock", "a") as lock:  # one build of the crates at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = json.loads(manifest.read_text())
            if found.get("fingerprint") == wanted:
                return found
        except (OSError, ValueError):
            pass
        return build_crates(rust_dir, policy, wanted)


def build_crates(rust_dir: Path, policy: Policy, wanted: str) -> dict | str:
    crate = rust_dir / "crate"
    (crate / ".cargo").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_bytes((DATA / "deps.toml").read_bytes())
    (crate / "nil.rs").write_bytes((DATA / "nil.rs").read_bytes())
    (crate / ".cargo" / "config.toml").write_text(CARGO_CONFIG)
    env = {**ENV, "CARGO_HOME": str(rust_dir / "cargo-home")}
    env["CARGO_TARGET_DIR"] = str(rust_dir / "target")
    argv = [CARGO, "build", "--release", "--target", TARGET, "--message-format", "json"]
    # Only Nil's fixed manifest and Debian's crates are built here, no function's code; their
    # build scripts and serde_derive are linked for the host by the system's `cc`.
    policy = policy.allowing(read=(CARGO, REGISTRY, *HOST_LINKER), write=(str(rust_dir),))
    policy = replace(policy, disk_bytes=0)  # the platform's own crates: not a user's build
    done = run_confined(argv, crate, policy, env, max_output=4 << 20)
    if done.fault or done.limit or done.returncode != 0:
        text = [line for line in done.output.splitlines() if not line.startswith("{")]
        reason = done.fault or done.limit or "\n".join(text[-10:])
        return f"building serde and Nil's crate failed: {reason}"[:2000]
    manifest = {"fingerprint": wanted, "extern": {}, "deps": []}
    for line in done.output.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact":
            continue
        name = message["target"]["name"]
        rlibs = [f for f in message["filenames"] if f.endswith(".rlib")]
        if name in ("nil", "serde", "serde_json") and rlibs:
            manifest["extern"][name] = rlibs[0]
    target = rust_dir / "target"
    manifest["deps"] = [str(target / TARGET / "release" / "deps"), str(target / "release" / "deps")]
    if set(manifest["extern"]) != {"nil", "serde", "serde_json"}:
        return f"building serde and Nil's crate gave {sorted(manifest['extern'])}"
    (rust_dir / "deps.json").write_text(json.dumps(manifest))
    return manifest


def command(manifest: dict) -> list[str]:
    argv = [RUSTC, "--edition", "2021", "--crate-type", "cdylib", "--crate-name", "function"]
    argv += ["--target", TARGET, "-C", "opt-level=2", "-C", "strip=symbols", "--color", "never"]
    for name, path in sorted(manifest["extern"].items()):
        argv += ["--extern", f"{name}={path}"]
    for path in manifest["deps"]:
        argv += ["-L", f"dependency={path}"]
    return [*argv, "-o", "function.wasm", "lib.rs"]


def compile_one(request: dict) -> dict:
    policy = Policy.from_json(request["policy"])
    rust_dir = Path(request["rust_dir"])
    manifest = prepared(rust_dir, policy)
    if isinstance(manifest, str):
        return faulted(manifest)  # the platform's crates, not the function: retried
    with job_directory("rust") as work:
        source = request["source"]
        ending = "" if source.endswith("\n") else "\n"
        (work / "lib.rs").write_text(f"{source}{ending}mod nil_platform;\n", encoding="utf-8")
        (work / "nil_platform.rs").write_bytes((DATA / "nil_platform.rs").read_bytes())
        done = run_confined(command(manifest), work, policy.allowing(read=(str(rust_dir),)), ENV)
        if done.fault:
            return faulted(done.fault)
        if done.crash:
            return crashed(done.crash)
        if done.limit:
            return limited(done.limit)
        wasm = work / "function.wasm"
        if done.returncode != 0 or not wasm.exists():
            return failed(done.output.strip() or "the Rust build failed")
        return ok(wasm.read_bytes())


if __name__ == "__main__":
    serve(compile_one)
