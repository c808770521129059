"""The runner pool manager: keeps warm runners, replaces dead ones, scales with load.

One supervisor serves every gateway worker through the runner directory
(common/runner_dir.py). It keeps at least `min` shared runners, adds one (up to
`max`) when all are busy, removes one idle for `idle_seconds`, starts a dedicated
runner when a gateway asks for one and reaps it after the same idle period. The
launcher decides what a runner is: a local process or a Docker container.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from common import runner_dir as rd
from common.lifecycle import StopFlag
from common.runners import transport
from runner.launchers import Launcher, RunnerHandle

logger = logging.getLogger(__name__)


@dataclass
class Slot:
    handle: RunnerHandle
    directory: Path
    function_id: str | None
    started_at: float
    last_busy: float
    healthy: bool = False
    failures: int = 0

    @property
    def name(self) -> str:
        return self.handle.name


class Supervisor:
    def __init__(
        self,
        launcher: Launcher,
        runner_dir: str | Path,
        *,
        min_runners: int = 2,
        max_runners: int | None = None,
        idle_seconds: float = 60.0,
        check_interval: float = 0.25,
    ) -> None:
        self.launcher = launcher
        self.root = Path(runner_dir).resolve()
        self.min_runners = min_runners
        self.max_runners = max(max_runners or min_runners, min_runners)
        self.idle_seconds = idle_seconds
        self.check_interval = check_interval
        self.slots: dict[str, Slot] = {}
        self.replacements = 0
        self._counter = 0
        self.stop_flag = StopFlag()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        (self.root / rd.REQUESTS).mkdir(parents=True, exist_ok=True)
        for handle in self.launcher.adopt():
            directory = self.root / handle.name
            if handle.alive() and (directory / rd.SOCKET).exists():
                self._add(handle, directory)
                logger.info("runner.adopted", extra={"runner": handle.name})
            else:
                handle.kill()
                logger.info("runner.removed_stale", extra={"runner": handle.name})
        self._counter = max([self._index(n) for n in self.slots] + [-1]) + 1
        self._ensure_min()
        self._write_state()

    def run(self) -> None:
        while not self.stop_flag.wait(self.check_interval):
            self.check()

    def stop(self) -> None:
        for slot in list(self.slots.values()):
            slot.handle.stop()
            self._forget(slot)
        (self.root / rd.STATE_FILE).unlink(missing_ok=True)

    # ------------------------------------------------------------------ one round

    def check(self) -> None:
        now = time.monotonic()
        for slot in list(self.slots.values()):
            if not slot.handle.alive():
                logger.warning(
                    "runner.exited",
                    extra={"runner": slot.name, "reason": slot.handle.exit_reason()},
                )
                self._discard(slot)
                continue
            self._probe(slot, now)
        self._scale_shared(now)
        self._serve_dedicated(now)
        self._ensure_min()
        self._write_state()

    def _probe(self, slot: Slot, now: float) -> None:
        if rd.is_busy(slot.directory):
            slot.last_busy = now
            slot.healthy = True  # a runner in a call cannot answer; it is working
            return
        slot.healthy = transport.healthy(rd.socket_address(slot.directory), timeout=2.0)
        if slot.healthy:
            slot.failures = 0
        elif now - slot.started_at > 30:
            slot.failures += 1
            if slot.failures >= 8:
                logger.warning("runner.unresponsive", extra={"runner": slot.name})
                self._discard(slot)

    def _scale_shared(self, now: float) -> None:
        shared = [s for s in self.slots.values() if s.function_id is None]
        if shared and len(shared) < self.max_runners and all(s.last_busy == now for s in shared):
            self._launch_shared()
            logger.info("pool.grew", extra={"size": len(shared) + 1})
            return
        if len(shared) > self.min_runners:
            idle = [s for s in shared if now - s.last_busy > self.idle_seconds]
            if idle and self._retire(min(idle, key=lambda s: s.last_busy)):
                logger.info("pool.shrank", extra={"size": len(shared) - 1})

    def _serve_dedicated(self, now: float) -> None:
        requests = self.root / rd.REQUESTS
        wanted = {p.name: p for p in requests.iterdir()} if requests.exists() else {}
        wall = time.time()
        for function_id, request in wanted.items():
            name = rd.dedicated_name(function_id)
            asked_ago = wall - request.stat().st_mtime
            slot = self.slots.get(name)
            if slot is None and asked_ago < self.idle_seconds:
                self._launch(name, function_id)
            elif slot is not None and min(asked_ago, now - slot.last_busy) > self.idle_seconds:
                if self._retire(slot):
                    request.unlink(missing_ok=True)
                    logger.info("runner.reaped", extra={"runner": name, "functionId": function_id})
            elif slot is None:
                request.unlink(missing_ok=True)

    # ------------------------------------------------------------------ helpers

    def _ensure_min(self) -> None:
        while sum(1 for s in self.slots.values() if s.function_id is None) < self.min_runners:
            self._launch_shared()

    def _launch_shared(self) -> None:
        name = f"{rd.SHARED_PREFIX}{self._counter}"
        self._counter += 1
        self._launch(name, None)

    def _launch(self, name: str, function_id: str | None) -> None:
        directory = self.root / name
        directory.mkdir(parents=True, exist_ok=True)
        handle = self.launcher.launch(name, directory, function_id)
        self._add(handle, directory)
        logger.info("runner.started", extra={"runner": name, "functionId": function_id})

    def _add(self, handle: RunnerHandle, directory: Path) -> None:
        now = time.monotonic()
        self.slots[handle.name] = Slot(handle, directory, handle.function_id, now, now)

    def _retire(self, slot: Slot) -> bool:
        """Stop an idle runner gracefully. Its lock is held meanwhile, so no gateway
        takes it; a runner that is busy now is retired in a later round."""
        release = rd.try_lock(slot.directory)
        if release is None:
            return False
        try:
            slot.handle.stop()
        finally:
            release()
        self._forget(slot)
        return True

    def _discard(self, slot: Slot) -> None:
        """A runner that died or stopped answering: kill what is left, replace it."""
        slot.handle.kill()
        self._forget(slot)
        self.replacements += 1

    def _forget(self, slot: Slot) -> None:
        self.slots.pop(slot.name, None)
        shutil.rmtree(slot.directory, ignore_errors=True)

    @staticmethod
    def _index(name: str) -> int:
        suffix = name.removeprefix(rd.SHARED_PREFIX)
        return int(suffix) if name.startswith(rd.SHARED_PREFIX) and suffix.isdigit() else -1

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "replacements": self.replacements,
            "runners": [
                {
                    "name": s.name,
                    "functionId": s.function_id,
                    "healthy": s.healthy,
                    "pid": getattr(getattr(s.handle, "proc", None), "pid", None),
                }
                for s in self.slots.values()
            ],
        }
        tmp = self.root / f".{rd.STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.root / rd.STATE_FILE)


def main() -> None:
    from common.logging import configure_logging
    from runner.launchers import make_launcher
    from runner.settings import SupervisorSettings

    settings = SupervisorSettings.from_env()
    configure_logging("supervisor", settings.log_level)
    supervisor = Supervisor(
        make_launcher(settings),
        settings.runner_dir,
        min_runners=settings.min_runners,
        max_runners=settings.max_runners,
        idle_seconds=settings.idle_seconds,
    )
    supervisor.stop_flag.install_signal_handlers()
    supervisor.start()
    logger.info(
        "supervisor.started",
        extra={
            "backend": settings.pool_backend,
            "runners": len(supervisor.slots),
            "dir": str(supervisor.root),
        },
    )
    try:
        supervisor.run()
    finally:
        supervisor.stop()
        logger.info("supervisor.stopped")


if __name__ == "__main__":
    main()
