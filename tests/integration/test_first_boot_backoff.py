"""Before the migrations (issue 24): a worker meets a database without the platform's
schema. The missing table/pgmq function is a retryable SchemaNotReady, and the builder
backs off (0.5 s doubling) instead of spinning on it."""

from __future__ import annotations

import logging
import threading

import pytest

from builder.settings import Settings as BuilderSettings
from builder.worker import Builder
from common.db import connection, open_pool
from common.errors import SchemaNotReady
from common.queue import CompilationQueues
from db import migrate
from db.migrate import pending, wait_for_schema


def test_a_missing_schema_is_schema_not_ready(fresh_database):
    db = open_pool(fresh_database, name="test")
    try:
        with pytest.raises(SchemaNotReady), connection(db) as conn:
            conn.execute("SELECT id FROM functions")
        with pytest.raises(SchemaNotReady):
            CompilationQueues(db).read_job(vt=30, poll_seconds=0)
    finally:
        db.close()


def test_the_builder_backs_off_while_the_schema_is_missing(fresh_database, caplog):
    db = open_pool(fresh_database, name="test")
    builder = Builder(db, BuilderSettings(concurrency=1), {})
    caplog.set_level(logging.WARNING, logger="builder.worker")
    thread = threading.Thread(target=builder.run, daemon=True)
    try:
        thread.start()
        builder.stop_flag.wait(3.0)
    finally:
        builder.stop_flag.stop()
        thread.join(timeout=35)
        db.close()
    tries = [r for r in caplog.records if r.getMessage() == "builder.database_unavailable"]
    # 0.5 + 1 + 2 s of backoff: 3 tries in 3 s (a loop without backoff makes thousands)
    assert 2 <= len(tries) <= 4, len(tries)


def test_wait_for_schema_returns_once_the_migrations_ran(fresh_database):
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 4:
            migrate(fresh_database)  # the migrations run while the service waits

    assert pending(fresh_database)
    assert wait_for_schema(fresh_database, sleep=sleep)
    assert slept == [0.5, 1.0, 2.0, 4.0]
    assert pending(fresh_database) == []
