"""Running the installed `nil` console script as users do: as a subprocess with pipes,
or under a pseudo-terminal (what a person at a terminal sees, escape codes included)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

NIL = str(Path(sys.executable).with_name("nil"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def _environ(url: str, extra: dict | None) -> dict[str, str]:
    """The test's environment without the caller's NIL_API_KEY/NO_COLOR, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if k not in ("NIL_API_KEY", "NO_COLOR")}
    return {**base, "NIL_URL": url, **(extra or {})}


def nil(url: str, *args: str, cwd=None, stdin: str | None = None, env=None) -> Run:
    environ = _environ(url, env)
    done = subprocess.run(
        [NIL, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=300,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def nil_tty(url: str, *args: str, cwd=None, env=None, timeout: float = 300) -> Run:
    """Run under a pty (stdin, stdout and stderr all the terminal); `out` is the screen."""
    master, slave = pty.openpty()
    environ = _environ(url, {"COLUMNS": "80", "TERM": "xterm", **(env or {})})
    proc = subprocess.Popen(
        [NIL, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=environ
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
    return Run(code, b"".join(chunks).decode("utf-8", "replace"), "")
