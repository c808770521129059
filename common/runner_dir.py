"""The runner directory: how gateways and the supervisor share a pool without talking.

<root>/shared-<n>/runner.sock     a shared runner
<root>/fn-<hash of function id>/runner.sock  a runner dedicated to one function
<root>/<runner>/runner.lock       held (flock) by the gateway thread using it
<root>/requests/<function id>     touched by gateways that want a dedicated runner
<root>/supervisor.json            the supervisor's view, for operators and tests
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

SOCKET = "runner.sock"
LOCK = "runner.lock"
REQUESTS = "requests"
STATE_FILE = "supervisor.json"
SHARED_PREFIX = "shared-"
DEDICATED_PREFIX = "fn-"


def dedicated_name(function_id: str) -> str:
    """Short, so the socket path stays under the 108-byte AF_UNIX limit."""
    digest = hashlib.blake2b(function_id.encode(), digest_size=8).hexdigest()
    return f"{DEDICATED_PREFIX}{digest}"


def socket_address(directory: Path) -> str:
    return f"unix:{directory / SOCKET}"


def shared_sockets(root: Path) -> list[Path]:
    try:
        names = sorted(n for n in os.listdir(root) if n.startswith(SHARED_PREFIX))
    except FileNotFoundError:
        return []
    return [root / n / SOCKET for n in names if (root / n / SOCKET).exists()]


def try_lock(runner_directory: Path) -> Callable[[], None] | None:
    """Take a runner exclusively (across processes and threads); None when busy."""
    try:
        fd = os.open(runner_directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:  # the runner was just removed
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return release


def is_busy(runner_directory: Path) -> bool:
    release = try_lock(runner_directory)
    if release is None:
        return True
    release()
    return False


def request_dedicated(root: Path, function_id: str) -> None:
    """Ask the supervisor for (or keep alive) a runner reserved for this function."""
    requests = root / REQUESTS
    requests.mkdir(parents=True, exist_ok=True)
    (requests / function_id).touch()
