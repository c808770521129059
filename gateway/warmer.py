"""Warm a runner with a function's artifact before the function becomes READY.

A Python function is a ~20 MB component that takes seconds to compile; compiled on
its first execution, that execution would take seconds too. So the consumer, before it
applies a successful result, sends the artifact to the runner the function prefers:
the runner compiles it, keeps it in memory and writes it to the host's artifact
directory, from which its neighbours load it in milliseconds. Best effort: when no
runner answers, the function becomes READY anyway and its first execution compiles.
"""

from __future__ import annotations

import hashlib
import logging
import time

from prometheus_client import Histogram

from common.errors import NilError
from common.runners import RunnerPool

logger = logging.getLogger(__name__)

WARM_SECONDS = Histogram(
    "nil_consumer_warm_duration_seconds",
    "Time a runner took to compile a new artifact before its function became READY",
    ["language"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 20, 40),
)


class ArtifactWarmer:
    def __init__(self, runners: RunnerPool, timeout_seconds: float) -> None:
        self.runners = runners
        self.timeout_seconds = timeout_seconds

    def warm(self, function_id: str, language: str, wasm: bytes) -> bool:
        if not self.runners.addresses():  # this process sees no runners (e.g. a test)
            return False
        sha256 = hashlib.sha256(wasm).hexdigest()
        started = time.perf_counter()
        try:
            with self.runners.lease(function_id) as runner:
                runner.preload(sha256, language, wasm, self.timeout_seconds)
        except NilError as exc:
            logger.warning(
                "artifact.warm_failed", extra={"functionId": function_id, "error": str(exc)}
            )
            return False
        elapsed = time.perf_counter() - started
        WARM_SECONDS.labels(language).observe(elapsed)
        logger.info(
            "artifact.warmed",
            extra={"functionId": function_id, "language": language, "durationMs": elapsed * 1000},
        )
        return True
