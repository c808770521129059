"""The builder: consumes compilation jobs, compiles per language, publishes results."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.settings import Settings

logger = logging.getLogger(__name__)


def warm_up_in_background(toolchains: dict, timeout: float) -> None:
    """Warm every compiler at once, without holding up the jobs of warm ones: a job
    waits only for its own toolchain (Zig's first build of libc takes ~30 s)."""
    import threading

    def warm(toolchain) -> None:
        try:
            toolchain.warm_up(timeout)
        except Exception:
            logger.exception("toolchain.warm_up_failed", extra={"language": toolchain.language})

    for toolchain in toolchains.values():
        threading.Thread(target=warm, args=(toolchain,), daemon=True).start()


def check_sandbox(settings: Settings) -> None:
    """Refuse to build unconfined unless told to (NIL_BUILDER_SANDBOX=off)."""
    import os

    from builder.sandbox import abi_version

    abi = abi_version()
    if settings.sandbox == "off":
        logger.warning("builder.sandbox_off", extra={"landlockAbi": abi})
        return
    if abi < 1:
        raise SystemExit(
            "the build sandbox needs Landlock (Linux >= 5.13 with landlock among the LSMs);"
            " set NIL_BUILDER_SANDBOX=off only to build trusted sources"
        )
    uid = settings.sandbox_uid if os.geteuid() == 0 else os.geteuid()
    logger.info("builder.sandbox", extra={"landlockAbi": abi, "compilerUid": uid})


def main() -> None:
    from builder.settings import Settings
    from builder.toolchains import all_toolchains
    from builder.worker import Builder
    from common.logging import configure_logging
    from common.service import open_service_pool, serve_until_stopped

    settings = Settings.from_env()
    configure_logging("builder", settings.log_level)
    check_sandbox(settings)
    db = open_service_pool("builder", settings, max_size=settings.concurrency + 2)
    toolchains = all_toolchains(settings)
    builder = Builder(db, settings, toolchains)
    warm_up_in_background(toolchains, timeout=max(settings.compile_timeout_seconds, 300))
    serve_until_stopped(
        "builder",
        builder,
        settings,
        db,
        started={"languages": sorted(toolchains)},
        closing=tuple(toolchain.close for toolchain in toolchains.values()),
    )
