"""Small helpers for integration tests: sources, and draining the workers without sleeps."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def source(name: str) -> str:
    return (FIXTURES / name).read_text()


def function_body(name: str = "echo", language: str = "wat", src: str | None = None, **extra):
    if src is None:
        src = source("echo.wat" if language == "wat" else "echo.ts")
    return {"name": name, "language": language, "source": src, **extra}


def queue_messages(conn, queue: str) -> list[dict]:
    return [r[0] for r in conn.execute(f"SELECT message FROM pgmq.q_{queue} ORDER BY msg_id")]


def archived_messages(conn, queue: str) -> list[dict]:
    return [r[0] for r in conn.execute(f"SELECT message FROM pgmq.a_{queue} ORDER BY msg_id")]
