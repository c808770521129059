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
    from common.db import open_pool
    from common.health_server import serve_health
    from common.logging import configure_logging

    settings = Settings.from_env()
    configure_logging("builder", settings.log_level)
    check_sandbox(settings)
    # First boot: the migrations may not have run yet; wait for them, never crash-loop.
    from db.migrate import wait_for_schema

    wait_for_schema(settings.database_url)
    db = open_pool(
        settings.database_url, min_size=1, max_size=settings.concurrency + 2, name="builder"
    )
    toolchains = all_toolchains(settings)
    builder = Builder(db, settings, toolchains)
    builder.stop_flag.install_signal_handlers()
    server = serve_health(
        settings.health_host,
        settings.health_port,
        lambda: not builder.stop_flag.stopping,
        settings.metrics_dir,
    )
    warm_up_in_background(toolchains, timeout=max(settings.compile_timeout_seconds, 300))
    logger.info(
        "builder.started",
        extra={"languages": sorted(toolchains), "healthPort": settings.health_port},
    )
    try:
        builder.run()
    finally:
        server.shutdown()
        for toolchain in toolchains.values():
            toolchain.close()
        db.close()
        logger.info("builder.stopped")
