"""The runner pool as the gateway sees it: pick a runner, run a call on it.

Backends: `local` and `docker` (runners on unix sockets in the runner directory,
kept by runner/supervisor.py as processes or containers), `static` (a fixed list
of addresses) and `kubernetes` (the addresses a headless Service resolves to).
All keep function affinity: rendezvous hashing on the function id orders the
runners, and the first free one in that order takes the call.
"""

from __future__ import annotations

from flask import Flask

from gateway.pool.base import NoRunnerAvailable, RunnerFailed, RunnerPool
from gateway.pool.local import DirectoryPool, DnsPool, StaticPool
from gateway.settings import Settings

__all__ = ["NoRunnerAvailable", "RunnerFailed", "RunnerPool", "init_app", "make_pool"]


def make_pool(settings: Settings) -> RunnerPool:
    if settings.pool_backend in ("local", "docker"):
        return DirectoryPool(settings.runner_dir, wait_seconds=settings.runner_wait_seconds)
    if settings.pool_backend == "static":
        return StaticPool(settings.runner_endpoints, wait_seconds=settings.runner_wait_seconds)
    if settings.pool_backend == "kubernetes":
        return DnsPool(settings.runner_service, wait_seconds=settings.runner_wait_seconds)
    raise ValueError(f"unknown NIL_POOL_BACKEND {settings.pool_backend!r}")


def init_app(app: Flask) -> None:
    platform = app.extensions["nil"]
    platform.runners = make_pool(platform.settings)
