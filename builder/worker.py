"""The builder loop: take a job, mark it COMPILING, compile, validate, publish, delete.

Every revision's job is compiled, also when a newer revision exists: its result
applies to its own revision (SPEC §9). The job message is deleted only after its
result is published; a transient failure leaves it to reappear after the visibility
timeout, and a job read more than `max_reads` times is answered with an internal
error and archived.

`concurrency` loops run side by side (threads; each compile is its own confined
process), so one slow or hostile build holds one slot, not the queue. A build that
hits its own limit (time, memory, CPU, output, disk) fails with a message naming it; a
compiler that crashed on its own compiling the source (a crash signal such as SIGABRT or
SIGSEGV, a stack overflow) fails the build at once, since the same source crashes it
again; a compiler killed by anything else (the kernel's OOM killer, an operator) is a
platform fault: the job goes back to the queue at once and is retried, and past
`max_reads` it is dead-lettered.
"""

from __future__ import annotations

import logging
import threading
import time
from uuid import UUID

import psycopg_pool

from builder import metrics
from builder.compiler_process import (
    CompilerCrashed,
    CompileTimeout,
    LimitExceeded,
    SourceCrashed,
)
from builder.sandbox import describe
from builder.sandbox.confine import cpu_seconds
from builder.settings import Settings
from builder.toolchains import Toolchain
from builder.validate import problem_kind, validate_artifact
from common.contracts import CompilationJob, CompilationResult
from common.db import transaction
from common.errors import NilError
from common.lifecycle import StopFlag
from common.queue import CompilationQueues, Delivery
from db import revisions as repo

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
        self._in_flight: set[int] = set()  # messages a slot of this builder is compiling
        self._in_flight_lock = threading.Lock()

    def run(self, *, wait: bool = True, max_jobs: int | None = None) -> int:
        """Handle jobs in `concurrency` slots until stopped; with wait=False, return once
        the queue is empty (re-raising the first error a slot met)."""
        budget = _Budget(max_jobs)
        slots = max(1, self.settings.concurrency)
        if slots == 1:
            return self._slot(wait, budget)
        errors: list[BaseException] = []

        def slot() -> None:
            try:
                self._slot(wait, budget)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=slot, name=f"build-slot-{n}", daemon=True) for n in range(slots)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return budget.handled

    def _slot(self, wait: bool, budget: _Budget) -> int:
        backoff = _Backoff()
        while not self.stop_flag.stopping and budget.take():
            try:
                delivery = self.queues.read_job(
                    vt=self.settings.visibility_timeout, poll_seconds=1 if wait else 0
                )
                if delivery is None:
                    budget.give_back()
                    backoff.reset()
                    if not wait:
                        break
                    continue
                if not self._claim(delivery.msg_id):
                    # Its visibility ran out while another slot compiles it: leave it to
                    # that slot (it is invisible again for a visibility timeout).
                    budget.give_back()
                    continue
                try:
                    self.handle(delivery)
                finally:
                    self._release(delivery.msg_id)
                budget.done()
                backoff.reset()
            except NilError:
                # The database is down or its schema not migrated yet (SchemaNotReady).
                budget.give_back()
                logger.warning("builder.database_unavailable")
                if not wait:
                    raise
                self.stop_flag.wait(backoff.next())
                continue
            except Exception:
                # Transient: the job stays in the queue and reappears after its timeout.
                # Backoff: an error that repeats must not spin the loop.
                budget.give_back()
                logger.exception("builder.job_error")
                if not wait:
                    raise
                self.stop_flag.wait(backoff.next())
                continue
        return budget.handled

    def _claim(self, msg_id: int) -> bool:
        with self._in_flight_lock:
            if msg_id in self._in_flight:
                return False
            self._in_flight.add(msg_id)
            return True

    def _release(self, msg_id: int) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(msg_id)

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
            logger.info("job.skipped", extra={**extra, "reason": "deleted or already built"})
            self.queues.delete_job(delivery.msg_id)
            return
        try:
            result = self.compile(job)
        except CompilerCrashed as exc:
            self._retry(delivery, job, str(exc))
            return
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
            except LimitExceeded as exc:
                message = self._limit_message(toolchain, exc.limit)
                return self._failed(job, message, f"{exc.limit}_limit")
            except SourceCrashed as exc:
                return self._failed(job, str(exc), "compiler_crash")
        duration = time.perf_counter() - started
        metrics.COMPILE_SECONDS.labels(job.language).observe(duration)
        if not output.ok:
            return self._failed(job, output.error or "compilation failed", "compile_error")
        assert output.wasm is not None
        problem = validate_artifact(job.language, output.wasm)
        if problem is not None:
            return self._failed(job, problem, problem_kind(problem))
        logger.info(
            "job.compiled",
            extra={**extra, "durationMs": round(duration * 1000, 1), "wasmSize": len(output.wasm)},
        )
        metrics.JOBS.labels(job.language, "success").inc()
        return CompilationResult(
            job.function_id, job.revision, True, wasm_binary=output.wasm, language=job.language
        )

    def _limit_message(self, toolchain: Toolchain, limit: str) -> str:
        sandbox = toolchain.sandbox
        return describe(
            limit,
            memory_mb=sandbox.memory_mb,
            cpu_seconds=cpu_seconds(self.settings.compile_timeout_seconds),
            file_mb=sandbox.file_mb,
            disk_mb=sandbox.disk_mb,
        )

    def _retry(self, delivery: Delivery, job: CompilationJob, reason: str) -> None:
        """A platform fault: not the source's failure. The job is read again at once."""
        logger.warning(
            "compiler.crashed",
            extra={
                "functionId": job.function_id,
                "language": job.language,
                "readCount": delivery.read_ct,
                "reason": reason[:500],
            },
        )
        metrics.JOBS.labels(job.language, "platform_fault").inc()
        self.queues.retry_job(delivery.msg_id)

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


class _Budget:
    """How many more jobs the slots may take (max_jobs), shared between them."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.handled = 0
        self._taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self._taken >= self.limit:
                return False
            self._taken += 1
            return True

    def give_back(self) -> None:
        """The slot took no job after all."""
        with self._lock:
            self._taken -= 1

    def done(self) -> None:
        with self._lock:
            self.handled += 1


class _Backoff:
    """Sleeps between failed turns: 0.5 s doubling to 30 s, reset by a good turn."""

    def __init__(self, first: float = 0.5, most: float = 30.0) -> None:
        self.first, self.most, self.delay = first, most, first

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first
