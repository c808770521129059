import threading

import psycopg

from db import migrate
from db.migrate import all_migrations

EXPECTED_COLUMNS = {
    "functions": [
        ("id", "uuid", "NO"),
        ("name", "text", "NO"),
        ("description", "text", "YES"),
        ("language", "text", "NO"),
        ("source", "text", "NO"),
        ("status", "USER-DEFINED", "NO"),
        ("compile_error", "text", "YES"),
        ("revision", "integer", "NO"),
        ("timeout_ms", "integer", "NO"),
        ("memory_mb", "integer", "NO"),
        ("fuel", "bigint", "NO"),
        ("wasm_binary", "bytea", "YES"),
        ("wasm_size", "integer", "YES"),
        ("wasm_sha256", "text", "YES"),
        ("created_at", "timestamp with time zone", "NO"),
        ("updated_at", "timestamp with time zone", "NO"),
        ("isolation", "text", "NO"),
    ],
    "executions": [
        ("id", "uuid", "NO"),
        ("function_id", "uuid", "NO"),
        ("status", "USER-DEFINED", "NO"),
        ("input", "jsonb", "NO"),
        ("output", "jsonb", "YES"),
        ("error_message", "text", "YES"),
        ("duration_ms", "double precision", "YES"),
        ("fuel_used", "bigint", "YES"),
        ("started_at", "timestamp with time zone", "YES"),
        ("completed_at", "timestamp with time zone", "YES"),
        ("created_at", "timestamp with time zone", "NO"),
        ("logs", "text", "YES"),
    ],
}


def schema_of(url: str) -> dict:
    with psycopg.connect(url) as conn:
        columns = {
            table: conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            for table in EXPECTED_COLUMNS
        }
        enums = conn.execute(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)"
            " FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"
            " ORDER BY t.typname"
        ).fetchall()
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        }
        fk = conn.execute(
            "SELECT confdeltype FROM pg_constraint WHERE conname = 'executions_function_id_fkey'"
        ).fetchone()
        queues = {r[0] for r in conn.execute("SELECT queue_name FROM pgmq.list_queues()")}
    return {"columns": columns, "enums": enums, "indexes": indexes, "fk": fk, "queues": queues}


def test_migrations_produce_exactly_the_expected_schema(fresh_database):
    assert migrate(fresh_database) == [m.version for m in all_migrations()]
    schema = schema_of(fresh_database)
    assert schema["columns"] == EXPECTED_COLUMNS
    assert schema["enums"] == [
        ("execution_status", ["PENDING", "RUNNING", "COMPLETED", "FAILED"]),
        ("function_status", ["PENDING", "COMPILING", "READY", "FAILED"]),
    ]
    assert {
        "functions_created_idx",
        "executions_function_created_idx",
        "executions_running_idx",
    } <= schema["indexes"]
    assert schema["fk"] == ("c",)  # ON DELETE CASCADE
    assert schema["queues"] == {"compilation_jobs", "compilation_results"}


def test_migrating_again_applies_nothing(fresh_database):
    migrate(fresh_database)
    assert migrate(fresh_database) == []


def test_two_concurrent_migrations_apply_each_step_once(fresh_database):
    results, errors = [], []

    def run():
        try:
            results.append(migrate(fresh_database))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results, key=len) == [[], [m.version for m in all_migrations()]]
    with psycopg.connect(fresh_database) as conn:
        count = conn.execute("SELECT count(*) FROM nil_schema_migrations").fetchone()[0]
    assert count == len(all_migrations())
