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

from common.errors import NilError
from common.runners import RunnerPool
from consumer.metrics import WARM_SECONDS

logger = logging.getLogger(__name__)


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
            self.runners.preload(function_id, sha256, language, wasm, self.timeout_seconds)
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
