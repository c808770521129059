"""The builder loop: take a job, mark it COMPILING, compile, validate, publish, delete.

The job message is deleted only after its result is published; a transient
failure leaves it to reappear after the visibility timeout, and a job read more
than `max_reads` times is answered with an internal error and archived.
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

import psycopg_pool

from builder import metrics
from builder.compiler_process import CompilerCrashed, CompileTimeout
from builder.settings import Settings
from builder.toolchains import Toolchain
from builder.validate import validate_artifact
from common.contracts import CompilationJob, CompilationResult
from common.db import transaction
from common.errors import NilError
from common.lifecycle import StopFlag
from common.queue import CompilationQueues, Delivery
from db import functions as repo

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error: the platform could not compile this function; try again"


class Builder:
    def __init__(
        self,
        db: psycopg_pool.ConnectionPool,
        settings: Settings,
        toolchains: dict[str, Toolchain],
    ) -> None:
        self.db = db
        self.settings = settings
        self.toolchains = toolchains
        self.queues = CompilationQueues(db)
        self.stop_flag = StopFlag()

    def run(self, *, wait: bool = True, max_jobs: int | None = None) -> int:
        """Handle jobs until stopped; with wait=False, return once the queue is empty."""
        handled = 0
        while not self.stop_flag.stopping:
            try:
                delivery = self.queues.read_job(
                    vt=self.settings.visibility_timeout, poll_seconds=1 if wait else 0
                )
                if delivery is None:
                    if not wait:
                        return handled
                    continue
                self.handle(delivery)
            except NilError:
                logger.warning("builder.database_unavailable")
                if not wait:
                    raise
                self.stop_flag.wait(1.0)
                continue
            except Exception:
                # Transient: the job stays in the queue and reappears after its timeout.
                logger.exception("builder.job_error")
                if not wait:
                    raise
                continue
            handled += 1
            if max_jobs is not None and handled >= max_jobs:
                break
        return handled

    def handle(self, delivery: Delivery) -> None:
        try:
            job = CompilationJob.from_json(delivery.payload)
            UUID(job.function_id)
        except (KeyError, TypeError, ValueError):
            logger.error("job.malformed", extra={"msgId": delivery.msg_id})
            self.queues.archive_job(delivery.msg_id)
            return
        extra = {"functionId": job.function_id, "revision": job.revision}
        logger.info("job.received", extra={**extra, "language": job.language})
        if delivery.read_ct > self.settings.max_reads:
            self._dead_letter(delivery, job)
            return
        with transaction(self.db) as conn:
            current = repo.mark_compiling(conn, UUID(job.function_id), job.revision)
        if not current:
            logger.info("job.skipped", extra={**extra, "reason": "stale or already applied"})
            self.queues.delete_job(delivery.msg_id)
            return
        result = self.compile(job)
        self.queues.publish_result(result)
        logger.info("result.published", extra={**extra, "success": result.success})
        self.queues.delete_job(delivery.msg_id)

    def compile(self, job: CompilationJob) -> CompilationResult:
        """Compile and validate; every failure of the user's source is a failed result."""
        extra = {"functionId": job.function_id, "language": job.language}
        toolchain = self.toolchains.get(job.language)
        if toolchain is None:
            return self._failed(job, f"unsupported language {job.language!r}", "unsupported")
        started = time.perf_counter()
        with metrics.IN_FLIGHT.track_inprogress():
            try:
                output = toolchain.compile(
                    job.source, timeout=self.settings.compile_timeout_seconds
                )
            except CompileTimeout as exc:
                return self._failed(job, str(exc), "timeout")
            except CompilerCrashed:
                logger.exception("compiler.crashed", extra=extra)
                return self._failed(
                    job, "the compiler crashed or ran out of memory on this source", "crash"
                )
        duration = time.perf_counter() - started
        metrics.COMPILE_SECONDS.labels(job.language).observe(duration)
        if not output.ok:
            return self._failed(job, output.error or "compilation failed", "compile_error")
        assert output.wasm is not None
        problem = validate_artifact(job.language, output.wasm)
        if problem is not None:
            return self._failed(job, problem, "abi_error")
        logger.info(
            "job.compiled",
            extra={**extra, "durationMs": round(duration * 1000, 1), "wasmSize": len(output.wasm)},
        )
        metrics.JOBS.labels(job.language, "success").inc()
        return CompilationResult(
            job.function_id, job.revision, True, wasm_binary=output.wasm, language=job.language
        )

    def _failed(self, job: CompilationJob, error: str, error_type: str) -> CompilationResult:
        logger.info("job.failed", extra={"functionId": job.function_id, "errorType": error_type})
        metrics.JOBS.labels(
            job.language if job.language in self.toolchains else "other", error_type
        ).inc()
        return CompilationResult(job.function_id, job.revision, False, error=error)

    def _dead_letter(self, delivery: Delivery, job: CompilationJob) -> None:
        """A job that keeps coming back is answered once with an internal error."""
        with transaction(self.db) as conn:
            waiting = repo.awaits_result(conn, UUID(job.function_id), job.revision)
        if waiting:
            result = CompilationResult(job.function_id, job.revision, False, error=INTERNAL_ERROR)
            self.queues.publish_result(result)
            logger.info("result.published", extra={"functionId": job.function_id, "success": False})
        self.queues.archive_job(delivery.msg_id)
        metrics.DEAD_LETTERED.inc()
        logger.error(
            "job.failed",
            extra={
                "functionId": job.function_id,
                "errorType": "dead_lettered",
                "readCount": delivery.read_ct,
            },
        )
