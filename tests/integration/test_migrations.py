import hashlib
import threading
import uuid

import psycopg

from db import migrate
from db.migrate import all_migrations

EXPECTED_COLUMNS = {
    "functions": [
        ("id", "uuid", "NO"),
        ("name", "text", "NO"),
        ("description", "text", "YES"),
        ("revision", "integer", "NO"),
        ("created_at", "timestamp with time zone", "NO"),
        ("updated_at", "timestamp with time zone", "NO"),
        ("isolation", "text", "NO"),
        ("retry_max_attempts", "integer", "NO"),
        ("retry_backoff_ms", "integer", "NO"),
        ("route", "text", "YES"),
        ("public", "boolean", "NO"),
        ("concurrency", "integer", "YES"),
    ],
    "revisions": [
        ("function_id", "uuid", "NO"),
        ("revision", "integer", "NO"),
        ("language", "text", "NO"),
        ("source", "text", "NO"),
        ("timeout_ms", "integer", "NO"),
        ("memory_mb", "integer", "NO"),
        ("fuel", "bigint", "NO"),
        ("env", "jsonb", "NO"),
        ("status", "USER-DEFINED", "NO"),
        ("compile_error", "text", "YES"),
        ("artifact_sha256", "text", "YES"),
        ("wasm_size", "integer", "YES"),
        ("wasm_sha256", "text", "YES"),
        ("pruned_at", "timestamp with time zone", "YES"),
        ("created_at", "timestamp with time zone", "NO"),
        ("built_at", "timestamp with time zone", "YES"),
    ],
    "rate_buckets": [
        ("name", "text", "NO"),
        ("key", "text", "NO"),
        ("tokens", "double precision", "NO"),
        ("taken", "boolean", "NO"),
        ("updated_at", "timestamp with time zone", "NO"),
    ],
    "artifacts": [
        ("sha256", "text", "NO"),
        ("wasm", "bytea", "NO"),
        ("size", "integer", "NO"),
        ("created_at", "timestamp with time zone", "NO"),
    ],
    "aliases": [
        ("function_id", "uuid", "NO"),
        ("name", "text", "NO"),
        ("revision", "integer", "YES"),
        ("routes", "jsonb", "YES"),
        ("pinned", "boolean", "NO"),
        ("updated_at", "timestamp with time zone", "NO"),
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
        ("revision", "integer", "YES"),
        ("trigger", "text", "NO"),
        ("attempts", "integer", "NO"),
        ("dead_lettered", "boolean", "NO"),
        ("choice", "jsonb", "NO"),
        ("idempotency_key", "text", "YES"),
        ("idempotency_fingerprint", "text", "YES"),
        ("retry_at", "timestamp with time zone", "YES"),
    ],
    "function_secrets": [
        ("function_id", "uuid", "NO"),
        ("name", "text", "NO"),
        ("key_id", "text", "NO"),
        ("nonce", "bytea", "NO"),
        ("ciphertext", "bytea", "NO"),
        ("updated_at", "timestamp with time zone", "NO"),
    ],
    "function_heads": [
        ("id", "uuid", "YES"),
        ("name", "text", "YES"),
        ("description", "text", "YES"),
        ("isolation", "text", "YES"),
        ("revision", "integer", "YES"),
        ("created_at", "timestamp with time zone", "YES"),
        ("updated_at", "timestamp with time zone", "YES"),
        ("language", "text", "YES"),
        ("source", "text", "YES"),
        ("status", "USER-DEFINED", "YES"),
        ("compile_error", "text", "YES"),
        ("timeout_ms", "integer", "YES"),
        ("memory_mb", "integer", "YES"),
        ("fuel", "bigint", "YES"),
        ("env", "jsonb", "YES"),
        ("wasm_size", "integer", "YES"),
        ("wasm_sha256", "text", "YES"),
        ("live_revision", "integer", "YES"),
        ("retry_max_attempts", "integer", "YES"),
        ("retry_backoff_ms", "integer", "YES"),
        ("route", "text", "YES"),
        ("public", "boolean", "YES"),
    ],
    "schedules": [
        ("id", "uuid", "NO"),
        ("function_id", "uuid", "NO"),
        ("cron", "text", "NO"),
        ("timezone", "text", "NO"),
        ("input", "jsonb", "NO"),
        ("next_run_at", "timestamp with time zone", "NO"),
        ("created_at", "timestamp with time zone", "NO"),
    ],
}
EXPECTED_INDEXES = {
    "functions_pkey",
    "functions_created_idx",
    "executions_pkey",
    "executions_function_created_idx",
    "executions_running_idx",
    "executions_idempotency_idx",
    "executions_idempotency_created_idx",
    "executions_dead_lettered_idx",
    "executions_created_idx",
    "revisions_pkey",
    "revisions_ready_idx",
    "revisions_artifact_idx",
    "artifacts_pkey",
    "aliases_pkey",
    "function_secrets_pkey",
    "nil_schema_migrations_pkey",
    "functions_route_idx",
    "schedules_pkey",
    "schedules_due_idx",
    "schedules_function_idx",
    "rate_buckets_pkey",
}
# (table, constraint) -> ON DELETE action: c = CASCADE, a = NO ACTION
EXPECTED_FOREIGN_KEYS = {
    ("executions", "executions_function_id_fkey"): "c",
    ("revisions", "revisions_function_id_fkey"): "c",
    ("revisions", "revisions_artifact_sha256_fkey"): "a",
    ("aliases", "aliases_function_id_fkey"): "c",
    ("aliases", "aliases_function_id_revision_fkey"): "c",
    ("schedules", "schedules_function_id_fkey"): "c",
    ("function_secrets", "function_secrets_function_id_fkey"): "c",
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
        fks = {
            (table, name): action
            for table, name, action in conn.execute(
                "SELECT conrelid::regclass::text, conname, confdeltype FROM pg_constraint"
                " WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
            )
        }
        queues = {r[0] for r in conn.execute("SELECT queue_name FROM pgmq.list_queues()")}
    return {"columns": columns, "enums": enums, "indexes": indexes, "fks": fks, "queues": queues}


def test_migrations_produce_exactly_the_expected_schema(fresh_database):
    assert migrate(fresh_database) == [m.version for m in all_migrations()]
    schema = schema_of(fresh_database)
    assert schema["columns"] == EXPECTED_COLUMNS
    assert schema["enums"] == [
        ("execution_status", ["PENDING", "RUNNING", "COMPLETED", "FAILED"]),
        ("function_status", ["PENDING", "COMPILING", "READY", "FAILED"]),
    ]
    assert schema["indexes"] == EXPECTED_INDEXES
    assert schema["fks"] == EXPECTED_FOREIGN_KEYS
    assert schema["queues"] == {"compilation_jobs", "compilation_results", "executions"}


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


LEGACY_WASM = bytes.fromhex("0061736d01000000")  # what 0005 stored on the function row


def test_existing_functions_become_their_current_revision(fresh_database):
    """0006 turns each function into its current revision, artifact and all: READY
    functions keep serving (live points at them); others wait as they did."""
    migrate(fresh_database, until="0005_execution_logs")
    sha = hashlib.sha256(LEGACY_WASM).hexdigest()
    ready, failed, twin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(fresh_database) as conn:
        for fid, status, revision, error in (
            (ready, "READY", 3, None),
            (failed, "FAILED", 1, "boom"),
            (twin, "READY", 1, None),
        ):
            wasm = LEGACY_WASM if status == "READY" else None
            conn.execute(
                "INSERT INTO functions (id, name, language, source, status, compile_error,"
                " revision, timeout_ms, memory_mb, fuel, wasm_binary, wasm_size, wasm_sha256)"
                " VALUES (%s, 'f', 'wat', '(module)', %s, %s, %s, 1000, 16, 1000, %s, %s, %s)",
                (fid, status, error, revision, wasm, wasm and len(wasm), wasm and sha),
            )
        conn.execute(
            "INSERT INTO executions (id, function_id, status, input)"
            " VALUES (%s, %s, 'PENDING', '{}')",
            (uuid.uuid4(), ready),
        )
    versions = [m.version for m in all_migrations()]
    assert migrate(fresh_database) == versions[versions.index("0006_revisions") :]
    with psycopg.connect(fresh_database) as conn:
        revisions = conn.execute(
            "SELECT function_id, revision, status::text, compile_error, artifact_sha256, env"
            " FROM revisions ORDER BY revision DESC, compile_error"
        ).fetchall()
        artifacts = conn.execute("SELECT sha256, wasm, size FROM artifacts").fetchall()
        lives = dict(
            conn.execute("SELECT function_id, revision FROM aliases WHERE name = 'live'").fetchall()
        )
        heads = conn.execute(
            "SELECT id, revision, status::text, live_revision FROM function_heads"
        ).fetchall()
        executions = conn.execute("SELECT revision FROM executions").fetchall()
    assert revisions == [
        (ready, 3, "READY", None, sha, {}),
        (failed, 1, "FAILED", "boom", None, {}),
        (twin, 1, "READY", None, sha, {}),
    ]
    assert artifacts == [(sha, LEGACY_WASM, len(LEGACY_WASM))]  # stored once, shared
    assert lives == {ready: 3, failed: None, twin: 1}
    assert sorted(heads) == sorted(
        [(ready, 3, "READY", 3), (failed, 1, "FAILED", None), (twin, 1, "READY", 1)]
    )
    assert executions == [(None,)]  # which revision ran before 0006 was never recorded
