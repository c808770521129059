"""Confining one compiler process: what it may open, how much it may use, who it runs as.

`enter(policy)` is called in the process that is about to compile (in a child before it
execs the compiler, or by a compiler process written in Python once it has imported what
it needs). In order: resource limits (memory, CPU time, file size, open files, no core
dumps), the Landlock ruleset (paths are opened while they can still be reached), then,
when the builder runs as root, the switch to an unprivileged uid (which also drops every
capability), the process-count limit for that uid, `no_new_privs`, a seccomp filter that
denies `socket(2)`, and last Landlock's restriction.
Nothing after it can widen any of these.
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from builder.sandbox import landlock, seccomp

# Shared libraries a dynamically linked compiler (Node) loads at exec; nothing else of /.
SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
# A minimal environment: nothing of the builder's (no DATABASE_URL, no secrets).
BASE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
DEVICES = ("/dev/null",)  # compilers point a child's unused stdio there


@dataclass(frozen=True)
class Policy:
    """What one compiler process may do. `read` paths are read-only (and executable),
    `write` paths are the job's own. Sizes in bytes, CPU in seconds."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    memory_bytes: int = 1024 << 20
    cpu_seconds: int = 120
    file_bytes: int = 64 << 20
    disk_bytes: int = 256 << 20  # all a build may write to its job's directory (0: no cap)
    tasks: int = 256
    open_files: int = 1024
    uid: int = 65534  # taken only when the builder runs as root
    enabled: bool = True

    def allowing(self, *, read: tuple[str, ...] = (), write: tuple[str, ...] = ()) -> Policy:
        return replace(self, read=self.read + read, write=self.write + write)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        data = json.loads(text)
        return cls(**{**data, "read": tuple(data["read"]), "write": tuple(data["write"])})


@dataclass(frozen=True)
class SandboxConfig:
    """The builder's sandbox settings; each toolchain derives its policies from them."""

    enabled: bool = True
    memory_mb: int = 1024
    uid: int = 65534
    tasks: int = 256
    file_mb: int = 64
    disk_mb: int = 256
    extra_read: tuple[str, ...] = field(default=())

    def policy(self, *, timeout: float, read: tuple[str, ...] = ()) -> Policy:
        return Policy(
            read=self.extra_read + read,
            write=DEVICES,
            memory_bytes=self.memory_mb << 20,
            cpu_seconds=cpu_seconds(timeout),
            file_bytes=self.file_mb << 20,
            disk_bytes=self.disk_mb << 20,
            tasks=self.tasks,
            uid=self.uid,
            enabled=self.enabled,
        )

    @property
    def drops_privileges(self) -> bool:
        return self.enabled and os.geteuid() == 0


def cpu_seconds(timeout: float) -> int:
    """CPU time for a compile: its wall-clock limit on two cores, at least 10 s."""
    return max(10, int(timeout * 2) + 1)


def enter(policy: Policy) -> None:
    """Confine the calling process (and everything it starts) to `policy`, for good."""
    if not policy.enabled:
        return
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_DATA, policy.memory_bytes)
    _limit(resource.RLIMIT_CPU, policy.cpu_seconds, hard=policy.cpu_seconds + 5)
    _limit(resource.RLIMIT_FSIZE, policy.file_bytes)
    _limit(resource.RLIMIT_NOFILE, policy.open_files)
    rules = [(path, landlock.READ_EXECUTE) for path in policy.read]
    rules += [(path, landlock.EVERYTHING) for path in policy.write]
    ruleset = landlock.create_ruleset(rules)
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(policy.uid)
        os.setuid(policy.uid)
    _limit(resource.RLIMIT_NPROC, tasks_of(os.getuid()) + policy.tasks)
    landlock.no_new_privs()
    if seccomp.supported():
        seccomp.deny_sockets()
    landlock.restrict_self(ruleset)


def prepare_directory(path: str | Path, config: SandboxConfig | Policy) -> None:
    """Hand a job's directory to the uid its compiler runs as (only needed as root)."""
    if config.enabled and os.geteuid() == 0:
        for root, dirs, files in os.walk(path):
            os.chown(root, config.uid, config.uid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), config.uid, config.uid, follow_symlinks=False)


def tasks_of(uid: int) -> int:
    """Threads of every process whose real uid is `uid`: what RLIMIT_NPROC counts."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1 0").split()[0]) == uid:
            total += int(fields.get("Threads", "1"))
    return total


def _limit(kind: int, soft: int, *, hard: int | None = None) -> None:
    _, current_hard = resource.getrlimit(kind)
    hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))
