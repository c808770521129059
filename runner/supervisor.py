"""The runner pool manager: keeps warm runners, replaces dead ones, scales with load.

One supervisor serves every gateway worker through the runner directory
(common/runner_dir.py). It asks every runner for its health each round (a runner
answers mid-call too, saying whether it is busy), keeps at least `min` shared runners,
adds one (up to `max`) when all are busy, retires one idle for `idle_seconds`, starts a
dedicated runner when a gateway asks for one and reaps it after the same idle period.
At most `max_dedicated` dedicated runners run: past it the least recently used idle one
is retired to make room, and when every one is busy the function is listed as refused
in the state file (its calls get a 503 with Retry-After). Retiring is a drain: the
runner is sent SIGTERM, answers "draining" to new calls, finishes its call in flight
and exits; it is killed only past `graceful_seconds`. The launcher decides what a
runner is: a local process or a Docker container.
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
from common.runners import Runner
from common.runners.transport import Connections
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
    busy: bool = False
    failures: int = 0
    retiring_since: float | None = None  # told to drain: it exits once its call is done

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
        max_dedicated: int = 8,
        graceful_seconds: float = 75.0,
    ) -> None:
        self.launcher = launcher
        self.root = Path(runner_dir).resolve()
        self.min_runners = min_runners
        self.max_runners = max(max_runners or min_runners, min_runners)
        self.idle_seconds = idle_seconds
        self.check_interval = check_interval
        self.max_dedicated = max_dedicated
        self.graceful_seconds = graceful_seconds
        self.slots: dict[str, Slot] = {}
        self.replacements = 0
        self.dedicated_refused: list[str] = []
        self.connections = Connections(max_idle=1)
        self._counter = 0
        self.stop_flag = StopFlag()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        (self.root / rd.REQUESTS).mkdir(parents=True, exist_ok=True)
        if self.launcher.runs_as_supervisor:
            # a runner's socket takes any local user (containers run as another uid);
            # with runner processes of our own, the directory keeps the others out
            self.root.chmod(0o700)
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
        """Drain every runner at once, kill what is left after the graceful period."""
        slots = list(self.slots.values())
        for slot in slots:
            slot.handle.terminate()
        deadline = time.monotonic() + self.graceful_seconds
        for slot in slots:
            while slot.handle.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            slot.handle.kill()
            self._forget(slot)
        self.connections.close()
        (self.root / rd.STATE_FILE).unlink(missing_ok=True)

    # ------------------------------------------------------------------ one round

    def check(self) -> None:
        now = time.monotonic()
        for slot in list(self.slots.values()):
            if slot.retiring_since is not None:
                self._follow_retiring(slot, now)
            elif not slot.handle.alive():
                logger.warning(
                    "runner.exited",
                    extra={"runner": slot.name, "reason": slot.handle.exit_reason()},
                )
                self._discard(slot)
            else:
                self._probe(slot, now)
        self._scale_shared(now)
        self._serve_dedicated(now)
        self._ensure_min()
        self._write_state()

    def _probe(self, slot: Slot, now: float) -> None:
        health = Runner(rd.socket_address(slot.directory), self.connections).health(timeout=2.0)
        slot.healthy = health is not None
        slot.busy = health is not None and health.busy
        if slot.busy:
            slot.last_busy = now
        if slot.healthy:
            slot.failures = 0
        elif now - slot.started_at > 30:
            slot.failures += 1
            if slot.failures >= 8:
                logger.warning("runner.unresponsive", extra={"runner": slot.name})
                self._discard(slot)

    def _follow_retiring(self, slot: Slot, now: float) -> None:
        assert slot.retiring_since is not None
        if slot.handle.alive() and now - slot.retiring_since > self.graceful_seconds:
            logger.warning("runner.drain_timeout", extra={"runner": slot.name})
            slot.handle.kill()
        if not slot.handle.alive():
            slot.handle.kill()  # removes what is left (a container)
            self._forget(slot)
            logger.info("runner.retired", extra={"runner": slot.name})

    def _scale_shared(self, now: float) -> None:
        shared = self._active(dedicated=False)
        if shared and len(shared) < self.max_runners and all(s.busy for s in shared):
            self._launch_shared()
            logger.info("pool.grew", extra={"size": len(shared) + 1})
            return
        if len(shared) > self.min_runners:
            idle = [s for s in shared if not s.busy and now - s.last_busy > self.idle_seconds]
            if idle:
                self._retire(min(idle, key=lambda s: s.last_busy))
                logger.info("pool.shrank", extra={"size": len(shared) - 1})

    def _serve_dedicated(self, now: float) -> None:
        requests = self.root / rd.REQUESTS
        wanted = {p.name: p for p in requests.iterdir()} if requests.exists() else {}
        wall = time.time()
        refused = []
        for function_id, request in wanted.items():
            name = rd.dedicated_name(function_id)
            try:
                asked_ago = wall - request.stat().st_mtime
            except FileNotFoundError:
                continue
            slot = self.slots.get(name)
            if slot is not None and slot.retiring_since is not None:
                continue  # relaunched once it has exited
            if slot is None and asked_ago < self.idle_seconds:
                if self._make_room():
                    self._launch(name, function_id)
                else:
                    refused.append(function_id)
            elif slot is not None and min(asked_ago, now - slot.last_busy) > self.idle_seconds:
                if not slot.busy:
                    self._retire(slot)
                    request.unlink(missing_ok=True)
                    logger.info("runner.reaped", extra={"runner": name, "functionId": function_id})
            elif slot is None:
                request.unlink(missing_ok=True)
        if refused and refused != self.dedicated_refused:
            logger.warning("runner.dedicated_cap", extra={"refused": len(refused)})
        self.dedicated_refused = refused

    def _make_room(self) -> bool:
        """Whether a dedicated runner may start: under the cap, or after retiring the
        least recently used idle one (its function gets a new one on its next call)."""
        dedicated = self._active(dedicated=True)
        if len(dedicated) < self.max_dedicated:
            return True
        idle = [s for s in dedicated if not s.busy]
        if not idle:
            return False
        victim = min(idle, key=lambda s: s.last_busy)
        self._retire(victim)
        (self.root / rd.REQUESTS / str(victim.function_id)).unlink(missing_ok=True)
        logger.info(
            "runner.reaped",
            extra={"runner": victim.name, "functionId": victim.function_id, "reason": "cap"},
        )
        return True

    def _active(self, *, dedicated: bool) -> list[Slot]:
        return [
            s
            for s in self.slots.values()
            if (s.function_id is not None) == dedicated and s.retiring_since is None
        ]

    # ------------------------------------------------------------------ helpers

    def _ensure_min(self) -> None:
        while len(self._active(dedicated=False)) < self.min_runners:
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

    def _retire(self, slot: Slot) -> None:
        """Drain a runner: it admits no new call (dispatchers go elsewhere), finishes the
        one in flight and exits; `check` forgets it then."""
        slot.retiring_since = time.monotonic()
        slot.handle.terminate()

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
            "dedicatedRefused": self.dedicated_refused,
            "runners": [
                {
                    "name": s.name,
                    "functionId": s.function_id,
                    "healthy": s.healthy,
                    "busy": s.busy,
                    "retiring": s.retiring_since is not None,
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
    from runner.supervisor_metrics import serve_runner_metrics

    settings = SupervisorSettings.from_env()
    configure_logging("supervisor", settings.log_level)
    supervisor = Supervisor(
        make_launcher(settings),
        settings.runner_dir,
        min_runners=settings.min_runners,
        max_runners=settings.max_runners,
        idle_seconds=settings.idle_seconds,
        max_dedicated=settings.max_dedicated,
        graceful_seconds=settings.graceful_seconds,
    )
    supervisor.stop_flag.install_signal_handlers()
    supervisor.start()
    serve_runner_metrics(supervisor, settings.host, settings.port)
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
