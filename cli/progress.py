"""Live build progress, one line per function: a rich spinner with the state and the
elapsed time on a terminal; elsewhere (piped, CI logs) one plain line per state change."""

from __future__ import annotations

import sys
import threading
import time

from cli.output import console

_STYLE = {"READY": "green", "FAILED": "red", "COMPILING": "yellow", "PENDING": "cyan"}


class Tracker:
    """A context manager; `add(name)` gives the line a deploy reports its states to."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self.progress = None
        self.lock = threading.Lock()

    def __enter__(self) -> Tracker:
        if self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(finished_text="•"),
                TextColumn("{task.fields[name]}"),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                console=console(stderr=True),
                transient=False,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def add(self, name: str) -> Line:
        task = None
        if self.progress is not None:
            task = self.progress.add_task(name, total=1, name=name, state="")
        return Line(self, name, task)


class Line:
    def __init__(self, tracker: Tracker, name: str, task) -> None:
        self.tracker, self.name, self.task = tracker, name, task
        self.started = time.monotonic()
        self.last: str | None = None

    def state(self, state: str) -> None:
        if state == self.last:
            return
        self.last = state
        self._show(state, _STYLE.get(state, ""))

    def done(self, state: str) -> None:
        self.state(state)
        if self.task is not None:
            self.tracker.progress.update(self.task, completed=1)

    def failed(self, message: str) -> None:
        self._show(f"error: {message}", "red")
        if self.task is not None:
            self.tracker.progress.update(self.task, completed=1)

    def _show(self, text: str, style: str) -> None:
        from rich.markup import escape

        if self.task is not None:
            shown = f"[{style}]{escape(text)}[/]" if style else escape(text)
            self.tracker.progress.update(self.task, state=shown)
            return
        elapsed = time.monotonic() - self.started
        with self.tracker.lock:
            print(f"{self.name}: {text} ({elapsed:.1f}s)", file=sys.stderr, flush=True)
