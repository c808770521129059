"""What a launcher is: it starts one runner serving a unix socket in its own directory
`<runner_dir>/<name>/` (where discovery finds it; its metrics socket beside it) and
returns a handle the supervisor polls (`alive`), tells to drain (`terminate`: SIGTERM,
without waiting) or kills; `adopt` finds runners a previous supervisor left."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self

from runner.settings import SupervisorSettings

ARTIFACTS = "artifacts"  # next to the runner directories: compiled artifacts of the host


class RunnerHandle(Protocol):
    name: str
    function_id: str | None  # set for a runner dedicated to one function

    def alive(self) -> bool: ...

    def exit_reason(self) -> str: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    # whether the runners run as the supervisor's own user: then only that user needs
    # the runner directory, and nobody else may reach a runner's socket through it
    runs_as_supervisor: bool

    @classmethod
    def from_settings(cls, settings: SupervisorSettings) -> Self: ...

    def launch(
        self, name: str, directory: Path, function_id: str | None = None
    ) -> RunnerHandle: ...

    def adopt(self) -> list[RunnerHandle]: ...
