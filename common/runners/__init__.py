"""The runner client, shared by every service that dispatches calls to runners (the
gateway, the consumer's warmer, the asynchronous invocation workers):

- discovery/  how runners are found (directory, static list, DNS), a registry
- pool.py     dispatching a call: function affinity, busy → next runner, a bounded wait
- runner.py   one runner: run a call (sending the module when it lacks it), warm it
- transport.py  keep-alive connections, pooled per process; what a broken one means
- protocol.py   the frames on the wire; what travels is common/contracts.py
"""

from __future__ import annotations

from common.runners.discovery import DISCOVERIES
from common.runners.pool import PoolStatus, RunnerPool, affinity_order
from common.runners.runner import Refusal, Runner
from common.settings import RunnerClientSettings

__all__ = [
    "DISCOVERIES",
    "PoolStatus",
    "Refusal",
    "Runner",
    "RunnerPool",
    "affinity_order",
    "make_runners",
]


def make_runners(settings: RunnerClientSettings) -> RunnerPool:
    """The process's runner pool, found the way NIL_POOL_BACKEND says."""
    discovery = DISCOVERIES[settings.discovery].from_settings(settings)
    return RunnerPool(
        discovery,
        wait_seconds=settings.runner_wait_ms / 1000,
        queue_max=settings.runner_queue_max,
    )
