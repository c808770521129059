"""Shared fixtures: one real PostgreSQL server per session, a migrated template
database built once, and a fresh database copied from it for each test."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from common.db import open_pool
from db import migrate
from tools.platform import start_embedded_postgres

TEMPLATE = "nil_template"


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a real PostgreSQL server (embedded, in this session's temp dir)."""
    return start_embedded_postgres(tmp_path_factory.mktemp("pg"))


def database_url(server_url: str, name: str) -> str:
    return make_conninfo(server_url, dbname=name)


@pytest.fixture(scope="session")
def template_url(pg_url: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    url = database_url(pg_url, TEMPLATE)
    migrate(url)
    return url


@contextlib.contextmanager
def temporary_database(pg_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database (a copy of the migrated template, or empty), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    template = f" TEMPLATE {TEMPLATE}" if migrated else ""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}{template}")
    try:
        yield database_url(pg_url, name)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def fresh_database(pg_url: str) -> Iterator[str]:
    """An empty database (no migrations) for tests of the migrations themselves."""
    with temporary_database(pg_url, "nil_empty", migrated=False) as url:
        yield url


@pytest.fixture
def db_url(pg_url: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test, copied from the template."""
    with temporary_database(pg_url, "nil_test") as url:
        yield url


@pytest.fixture
def db(db_url: str):
    """The test's database pool (services call theirs `db` too)."""
    db = open_pool(db_url, min_size=1, max_size=4, name="test")
    db.wait()
    yield db
    db.close()


@pytest.fixture(scope="session")
def toolchains():
    """The real compilers, kept warm for the whole session."""
    from builder.toolchains import all_toolchains

    chains = all_toolchains()
    yield chains
    for chain in chains.values():
        chain.close()


@pytest.fixture(scope="session")
def runner_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two real runner processes under the local supervisor, shared by the session."""
    from runner.launchers import ProcessLauncher
    from runner.supervisor import Supervisor

    directory = tmp_path_factory.mktemp("runners")
    supervisor = Supervisor(ProcessLauncher(), directory, min_runners=2, check_interval=0.2)
    supervisor.start()
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    _wait_for_runners(directory, 2)
    yield directory
    supervisor.stop_flag.stop()
    thread.join(timeout=5)
    supervisor.stop()


def _wait_for_runners(directory: Path, count: int, timeout: float = 30.0) -> None:
    import time

    from common.runners import Runner

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sockets = sorted(directory.glob("*/runner.sock"))
        if len(sockets) == count and all(Runner(f"unix:{s}").healthy() for s in sockets):
            return
        time.sleep(0.1)
    raise TimeoutError("runners did not come up")


@pytest.fixture
def app(db_url: str, runner_dir: Path):
    from gateway import create_app

    app = create_app(
        {"database_url": db_url, "runner_dir": str(runner_dir), "runner_wait_ms": 2000}
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["nil"].close()


@pytest.fixture
def client(app):
    return app.test_client()
