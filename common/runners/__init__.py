"""The runner client, shared by every service that dispatches calls to runners (the
gateway, the consumer's warmer, the asynchronous invocation workers):

- discovery/  how runners are found (directory, static list, DNS), a registry
- pool.py     taking one for a call: function affinity, leases, a bounded wait
- runner.py   one runner: run a call (sending the module when it lacks it), warm it
- transport.py  the protocol on the wire; what travels is common/contracts.py
"""

from __future__ import annotations

from common.runners.discovery import DISCOVERIES
from common.runners.pool import RunnerPool, affinity_order
from common.runners.runner import Runner
from common.settings import RunnerClientSettings

__all__ = ["DISCOVERIES", "Runner", "RunnerPool", "affinity_order", "make_runners"]


def make_runners(settings: RunnerClientSettings) -> RunnerPool:
    """The process's runner pool, found the way NIL_POOL_BACKEND says."""
    discovery = DISCOVERIES[settings.discovery].from_settings(settings)
    return RunnerPool(discovery, wait_seconds=settings.runner_wait_ms / 1000)
