"""The builder: consumes compilation jobs, compiles per language, publishes results."""

from __future__ import annotations

import logging

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


def main() -> None:
    from builder.settings import Settings
    from builder.toolchains import all_toolchains
    from builder.worker import Builder
    from common.db import open_pool
    from common.health_server import serve_health
    from common.logging import configure_logging

    settings = Settings.from_env()
    configure_logging("builder", settings.log_level)
    db = open_pool(settings.database_url, min_size=1, max_size=3, name="builder")
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
