"""One confined compile in its own directory, for the compiler processes written in Python.

The job directory is made for this compile alone and handed to the sandbox's uid; the
compiler's output goes to a file there (so RLIMIT_FSIZE bounds it too) and only its
first part is read back. What the compile writes there in all is capped while it runs
(`Policy.disk_bytes`, builder/sandbox/disk.py); the directory is removed afterwards.
How the compiler ended is classified: a limit of the build, a crash of the compiler on
this source and a platform fault become their own replies (worker_protocol.limited /
crashed / faulted).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from builder.sandbox.confine import Policy, enter, prepare_directory
from builder.sandbox.disk import watch
from builder.sandbox.outcome import DISK, PlatformFault, SourceCrash, limit_hit

MAX_LOG_CHARS = 64 * 1024


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str
    limit: str | None = None
    fault: str | None = None
    crash: str | None = None  # the compiler crashed on this source (not retried)


@contextmanager
def job_directory(language: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"nil-{language}-") as tmp:
        yield Path(tmp)


def run_confined(
    argv: list[str],
    work: Path,
    policy: Policy,
    env: dict[str, str],
    *,
    self_confining: bool = False,
    max_output: int = MAX_LOG_CHARS,
) -> Finished:
    """Run `argv` in `work`, confined to `policy` plus `work` itself: entered between fork
    and exec, or — `self_confining` — by the program, which gets the policy as its last
    argument and enters it once it has loaded what it needs. The first `max_output`
    bytes of what it printed are returned."""
    policy = policy.allowing(write=(str(work),))
    prepare_directory(work, policy)
    log_path = work / "compiler.log"
    with open(log_path, "wb") as log:
        done = subprocess.Popen(
            [*argv, policy.to_json()] if self_confining else argv,
            cwd=work,
            env={**env, "HOME": str(work), "TMPDIR": str(work)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if self_confining else partial(enter, policy),
        )  # in the worker's process group: a timeout kills the worker and this compile
        # All it writes to `work` is summed while it runs (builder/sandbox/disk.py).
        if watch(done, work, policy.disk_bytes):
            return Finished(done.returncode, "", limit=DISK)
    with open(log_path, "rb") as log:
        output = log.read(max_output).decode(errors="replace")
    output = output.replace(str(work) + os.sep, "").replace(str(work), "")
    try:
        limit = limit_hit(done.returncode, output)
    except PlatformFault as fault:
        return Finished(done.returncode, output, fault=str(fault))
    except SourceCrash as crash:
        return Finished(done.returncode, output, crash=str(crash))
    return Finished(done.returncode, output, limit=limit)
