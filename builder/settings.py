"""The builder's settings: compile limits, the job queue's timing, its health port, and
where Zig keeps its cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config import env_float, env_int, env_str
from common.settings import ServiceSettings


@dataclass(frozen=True)
class Settings(ServiceSettings):
    compile_timeout_seconds: float = 60.0
    max_reads: int = 5
    health_host: str = "127.0.0.1"
    health_port: int = 8081
    visibility_seconds: int | None = None  # None: the compile timeout plus 30 s
    zig_cache_dir: str = ""  # from the environment: $XDG_CACHE_HOME/nil/zig by default
    zig_cache_seed: str = ""  # a prebuilt cache copied to zig_cache_dir at start (the image's)

    @property
    def visibility_timeout(self) -> int:
        """Longer than a compile can take, so a job is not redelivered while compiling."""
        return self.visibility_seconds or int(self.compile_timeout_seconds) + 30

    @classmethod
    def read_env(cls) -> dict[str, Any]:
        return {
            **super().read_env(),
            "compile_timeout_seconds": env_float(
                "NIL_COMPILE_TIMEOUT_SECONDS", cls.compile_timeout_seconds
            ),
            "max_reads": env_int("NIL_BUILDER_MAX_READS", cls.max_reads),
            "health_host": env_str("NIL_BUILDER_HOST", cls.health_host),
            "health_port": env_int("NIL_BUILDER_PORT", cls.health_port),
            "visibility_seconds": env_int("NIL_BUILDER_VISIBILITY_SECONDS", 0) or None,
            "zig_cache_dir": env_str("NIL_ZIG_CACHE_DIR") or str(_cache_home() / "nil" / "zig"),
            "zig_cache_seed": env_str("NIL_ZIG_CACHE_SEED", cls.zig_cache_seed),
        }


def _cache_home() -> Path:
    """Where the XDG convention puts a user's caches."""
    return Path(env_str("XDG_CACHE_HOME") or Path.home() / ".cache")
