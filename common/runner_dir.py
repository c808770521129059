"""The runner directory: how gateways and the supervisor share a pool without talking.

<root>/shared-<n>/runner.sock     a shared runner
<root>/fn-<hash of function id>/runner.sock  a runner dedicated to one function
<root>/<runner>/metrics.sock      its metrics listener (HTTP; it executes nothing)
<root>/requests/<function id>     touched by gateways that want a dedicated runner
<root>/supervisor.json            the supervisor's view, for operators and tests
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SOCKET = "runner.sock"
METRICS_SOCKET = "metrics.sock"
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


def request_dedicated(root: Path, function_id: str) -> None:
    """Ask the supervisor for (or keep alive) a runner reserved for this function."""
    requests = root / REQUESTS
    requests.mkdir(parents=True, exist_ok=True)
    (requests / function_id).touch()
