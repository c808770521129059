"""The builder's settings: compile limits, the job queue's timing, its health address,
where Zig keeps its cache, Rust its prebuilt crates and Python its template, and the build sandbox
(builder/sandbox)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.sandbox import SandboxConfig
from common.config import ConfigError, env_str
from common.settings import ServiceSettings, env

SANDBOX_MODES = ("required", "off")


@dataclass(frozen=True)
class Settings(ServiceSettings):
    compile_timeout_seconds: float = env("NIL_COMPILE_TIMEOUT_SECONDS", 60.0)
    max_reads: int = env("NIL_BUILDER_MAX_READS", 5)
    health_host: str = env("NIL_BUILDER_HOST", "127.0.0.1")
    health_port: int = env("NIL_BUILDER_PORT", 8081)
    visibility_seconds: int = env("NIL_BUILDER_VISIBILITY_SECONDS", 0)  # 0: timeout + 30 s
    zig_cache_dir: str = env("NIL_ZIG_CACHE_DIR", "")  # "": $XDG_CACHE_HOME/nil/zig
    zig_cache_seed: str = env("NIL_ZIG_CACHE_SEED", "")  # a prebuilt cache (the image's)
    rust_dir: str = env("NIL_RUST_DIR", "")  # "": $XDG_CACHE_HOME/nil/rust (serde, Nil's crate)
    python_template_dir: str = env("NIL_PYTHON_TEMPLATE_DIR", "")  # "": $XDG_CACHE_HOME/nil/python
    concurrency: int = env("NIL_BUILDER_CONCURRENCY", 2)  # builds at once, each confined
    memory_mb: int = env("NIL_BUILDER_MEMORY_MB", 1024)  # one build's memory cap
    disk_mb: int = env("NIL_BUILDER_DISK_MB", 256)  # all one build may write to its directory
    sandbox: str = env("NIL_BUILDER_SANDBOX", "required")  # "off": unconfined (trusted only)
    sandbox_uid: int = env("NIL_BUILDER_SANDBOX_UID", 65534)  # compilers' uid under root

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sandbox not in SANDBOX_MODES:
            raise ConfigError(f"NIL_BUILDER_SANDBOX must be required or off, got {self.sandbox!r}")
        if self.disk_mb < 1:
            raise ConfigError("NIL_BUILDER_DISK_MB must be at least 1")
        if self.concurrency < 1:
            raise ConfigError("NIL_BUILDER_CONCURRENCY must be at least 1")

    @property
    def visibility_timeout(self) -> int:
        """Longer than a compile can take, so a job is not redelivered while compiling."""
        return self.visibility_seconds or int(self.compile_timeout_seconds) + 30

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(
            enabled=self.sandbox != "off",
            memory_mb=self.memory_mb,
            disk_mb=self.disk_mb,
            uid=self.sandbox_uid,
        )

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        values = super().read_env()
        cache_home = Path(env_str("XDG_CACHE_HOME") or Path.home() / ".cache")
        default = str(cache_home / "nil" / "zig")
        if os.geteuid() == 0 and values["sandbox"] != "off":
            # A root builder's home is out of reach of the compilers' uid.
            default = f"/var/cache/nil/zig-{values['sandbox_uid']}"
        values["zig_cache_dir"] = values["zig_cache_dir"] or default
        rust_default = str(cache_home / "nil" / "rust")
        if os.geteuid() == 0 and values["sandbox"] != "off":
            rust_default = f"/var/cache/nil/rust-{values['sandbox_uid']}"
        values["rust_dir"] = values["rust_dir"] or rust_default
        python_default = str(cache_home / "nil" / "python")
        if os.geteuid() == 0:
            python_default = "/var/cache/nil/python"
        values["python_template_dir"] = values["python_template_dir"] or python_default
        return values
