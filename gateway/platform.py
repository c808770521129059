"""What the gateway's views reach: settings, the database pool (`db`), the compilation
queues and the runner pool (`runners`), all opened once in create_app."""

from __future__ import annotations

import atexit
from dataclasses import dataclass
from typing import Any

import psycopg_pool
from flask import Flask, current_app, request

from common import jsonvalues
from common.contracts import Limits
from common.db import open_pool
from common.notifications import ExecutionWatch
from common.queue import CompilationQueues
from common.runners import RunnerPool, make_runners
from common.secrets import Keyring
from gateway.errors import ValidationError
from gateway.settings import Settings
from gateway.validation import ISOLATIONS, LimitPolicy


@dataclass
class Platform:
    settings: Settings
    db: psycopg_pool.ConnectionPool
    queues: CompilationQueues
    policy: LimitPolicy
    runners: RunnerPool
    watch: ExecutionWatch  # long-polls and idempotent repeats wait on it (one listener)
    keyring: Keyring  # seals functions' secrets, opens them for executions

    def close(self) -> None:
        self.watch.stop()
        self.runners.close()
        self.db.close()


def init_app(app: Flask, settings: Settings) -> Platform:
    db = open_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        name="gateway",
    )
    platform = Platform(
        settings=settings,
        db=db,
        queues=CompilationQueues(db),
        policy=LimitPolicy(
            defaults=Limits(
                settings.default_timeout_ms, settings.default_memory_mb, settings.default_fuel
            ),
            maxima=Limits(settings.max_timeout_ms, settings.max_memory_mb, settings.max_fuel),
            isolations=ISOLATIONS if settings.dedicated_isolation else ("shared",),
        ),
        runners=make_runners(settings),
        watch=ExecutionWatch(settings.database_url),
        keyring=Keyring.from_settings(settings),
    )
    app.extensions["nil"] = platform
    atexit.register(platform.close)
    return platform


def platform() -> Platform:
    return current_app.extensions["nil"]


def json_body(*, allow_empty: bool = False) -> Any:
    """The request body parsed as JSON, whatever the Content-Type says; 400 if it is not
    JSON, or nests deeper than Python's parser goes."""
    data = request.get_data(cache=True)
    if allow_empty and not data:
        return None
    try:
        return jsonvalues.parse(data)
    except jsonvalues.InvalidJson as exc:
        if str(exc) == jsonvalues.TOO_DEEP:
            raise ValidationError(f"request body {exc}") from None
        raise ValidationError("request body must be valid JSON") from None
