"""The builder's settings: compile limits, the job queue's timing, its health address,
and where Zig keeps its cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config import env_str
from common.settings import ServiceSettings, env


@dataclass(frozen=True)
class Settings(ServiceSettings):
    compile_timeout_seconds: float = env("NIL_COMPILE_TIMEOUT_SECONDS", 60.0)
    max_reads: int = env("NIL_BUILDER_MAX_READS", 5)
    health_host: str = env("NIL_BUILDER_HOST", "127.0.0.1")
    health_port: int = env("NIL_BUILDER_PORT", 8081)
    visibility_seconds: int = env("NIL_BUILDER_VISIBILITY_SECONDS", 0)  # 0: timeout + 30 s
    zig_cache_dir: str = env("NIL_ZIG_CACHE_DIR", "")  # "": $XDG_CACHE_HOME/nil/zig
    zig_cache_seed: str = env("NIL_ZIG_CACHE_SEED", "")  # a prebuilt cache (the image's)

    @property
    def visibility_timeout(self) -> int:
        """Longer than a compile can take, so a job is not redelivered while compiling."""
        return self.visibility_seconds or int(self.compile_timeout_seconds) + 30

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        values = super().read_env()
        cache_home = Path(env_str("XDG_CACHE_HOME") or Path.home() / ".cache")
        values["zig_cache_dir"] = values["zig_cache_dir"] or str(cache_home / "nil" / "zig")
        return values
