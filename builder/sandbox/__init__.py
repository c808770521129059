"""The build sandbox: every compiler runs confined to its toolchain and its job.

Layers, all unprivileged and available in a default container (docs/security.md):
Landlock (files by path, TCP, signals and abstract sockets), resource limits (memory,
CPU time, file size, processes, open files), a scrubbed environment, and — when the
builder runs as root — an unprivileged uid. `confine.enter` applies them; `launch.py`
applies them and then execs a compiler; `outcome` tells a limit hit from a platform fault.
"""

from builder.sandbox.confine import BASE_ENV, Policy, SandboxConfig, enter, prepare_directory
from builder.sandbox.landlock import LandlockUnavailable, abi_version
from builder.sandbox.outcome import PlatformFault, describe, limit_hit

__all__ = [
    "BASE_ENV",
    "LandlockUnavailable",
    "PlatformFault",
    "Policy",
    "SandboxConfig",
    "abi_version",
    "describe",
    "enter",
    "limit_hit",
    "prepare_directory",
]
