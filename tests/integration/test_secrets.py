"""Configuration and secrets (SPEC §12) through the gateway, the invocation workers and
real runner processes: env limits, env in revisions, write-only secrets sealed at rest,
delivery, redaction, a wrong key, rotation and resealing — and a secret found nowhere
it must not be (responses, logs, the database outside its ciphertext, pgmq, /metrics)."""

from __future__ import annotations

import logging

import psycopg
import pytest

from common.secrets import Keyring, generate_key
from consumer.reseal import Resealer
from invoker.settings import Settings as InvokerSettings
from invoker.worker import Invoker
from tests.integration.helpers import function_body

KEY, OTHER_KEY = generate_key(), generate_key()
SECRET = 's3cr3t-"quoted"-é-value'  # JSON-escaped spellings differ from the raw one
ROTATED = "rotated-secret-value-2"

# Prints its token, or dies with it on stderr; answers with the token's length and a
# checksum (so the test sees the value arrived without the value being in the output).
C_SOURCE = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nil.h"

NIL_HANDLE uint64_t handle(const char *input, uint32_t len) {
    static char out[256];
    const char *greeting = getenv("GREETING"), *token = getenv("TOKEN");
    if (!greeting) greeting = "";
    if (strstr(input, "print")) printf("token=%s\n", token ? token : "");
    if (strstr(input, "trap")) { fprintf(stderr, "fatal: bad token %s\n", token); abort(); }
    int n = snprintf(out, sizeof out, "{\"greeting\":\"%s\"}", greeting);
    if (token) {
        unsigned sum = 0;
        for (size_t i = 0; token[i]; i++) sum = sum * 31u + (unsigned char)token[i];
        n = snprintf(out, sizeof out, "{\"greeting\":\"%s\",\"tokenLength\":%zu,"
                     "\"tokenSum\":%u}", greeting, strlen(token), sum);
    }
    return nil_output(out, (size_t)n);
}
"""


def fingerprint(token: str) -> dict:
    data = token.encode()
    total = 0
    for byte in data:
        total = (total * 31 + byte) % 2**32
    return {"tokenLength": len(data), "tokenSum": total}


@pytest.fixture
def app(db_url, runner_dir):
    from gateway import create_app

    app = create_app(
        {
            "database_url": db_url,
            "runner_dir": str(runner_dir),
            "runner_wait_ms": 2000,
            "secrets_key": KEY,
        }
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["nil"].close()


@pytest.fixture
def other_app(db_url, runner_dir):
    """A gateway on the same database whose key is another one (a wrong NIL_SECRETS_KEY)."""
    from gateway import create_app

    app = create_app(
        {
            "database_url": db_url,
            "runner_dir": str(runner_dir),
            "runner_wait_ms": 2000,
            "secrets_key": OTHER_KEY,
        }
    )
    yield app.test_client()
    app.extensions["nil"].close()


@pytest.fixture
def responses(client):
    """Every response body the test's client received."""
    seen: list[bytes] = []
    for method in ("get", "post", "put", "delete"):
        original = getattr(client, method)

        def recording(*args, _original=original, **kwargs):
            response = _original(*args, **kwargs)
            seen.append(response.get_data())
            return response

        setattr(client, method, recording)
    return seen


@pytest.fixture
def deploy(client, compile_all):
    def make(**extra):
        body = function_body(language="c", src=C_SOURCE, **extra)
        response = client.post("/functions", json=body)
        assert response.status_code == 201, response.json
        compile_all()
        fn = client.get(f"/functions/{response.json['id']}").json
        assert fn["status"] == "READY", fn["compileError"]
        return fn

    return make


def execute(client, fid, **input_value):
    return client.post(f"/functions/{fid}/execute", json={"input": input_value})


def body(fn, **changes):
    keep = ("name", "language", "source", "limits", "env")
    return {**{k: fn[k] for k in keep}, **changes}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("env", {f"V{i}": "x" for i in range(65)}, "env must have at most 64 entries"),
        ("env", {"1BAD": "x"}, "env names must match [A-Za-z_][A-Za-z0-9_]*"),
        ("env", {"A-B": "x"}, "env names must match"),
        ("env", {"BIG": "x" * (32 * 1024)}, "env must be at most 32768 bytes"),
        ("env", {"N": 1}, "env.N must be a string"),
        ("env", ["A=1"], "env must be a JSON object"),
        ("secrets", {"bad name": "hunter22"}, "secrets names must match"),
        ("secrets", {f"S{i}": "x" for i in range(65)}, "secrets must have at most 64 entries"),
        ("secrets", {"BIG": "y" * (32 * 1024)}, "secrets must be at most 32768 bytes"),
        ("secrets", {"N": 1234}, "secrets.N must be a string"),
    ],
)
def test_env_and_secrets_limits_are_400s(client, field, value, message):
    response = client.post("/functions", json=function_body(**{field: value}))
    assert response.status_code == 400
    assert message in response.json["message"]
    assert "y" * 64 not in response.get_data(as_text=True)


def test_secrets_reach_the_function_and_never_leave_it(
    client, deploy, responses, caplog, capfd, db_url, invoker_with_key, app
):
    caplog.set_level(logging.DEBUG)
    fn = deploy(env={"GREETING": "hello"}, secrets={"TOKEN": SECRET, "API_KEY": "abcd-1234"})
    assert fn["env"] == {"GREETING": "hello"} and fn["secrets"] == ["API_KEY", "TOKEN"]
    assert client.get(f"/functions/{fn['id']}/revisions/1").json["env"] == {"GREETING": "hello"}

    ran = execute(client, fn["id"]).json
    assert ran["status"] == "COMPLETED", ran
    assert ran["output"] == {"greeting": "hello", **fingerprint(SECRET)}

    printed = execute(client, fn["id"], op="print").json
    assert printed["logs"] == "token=[redacted]\n"
    trapped = execute(client, fn["id"], op="trap").json
    assert trapped["status"] == "FAILED"
    assert "(stderr: fatal: bad token [redacted])" in trapped["errorMessage"]
    assert "[redacted]" in trapped["logs"]

    # the asynchronous path redacts the same way
    queued = client.post(f"/functions/{fn['id']}/invocations", json={"input": {"op": "trap"}})
    assert queued.status_code == 202
    invoker_with_key.run(wait=False)
    later = client.get(f"/executions/{queued.json['id']}").json
    assert later["status"] == "FAILED" and "[redacted]" in later["errorMessage"], later

    client.get(f"/functions/{fn['id']}/executions")
    client.get(f"/functions/{fn['id']}/revisions")
    metrics = client.get("/metrics").get_data()
    logs = [str(record.__dict__).encode() for record in caplog.records]
    out, err = capfd.readouterr()  # anything written to stdout/stderr meanwhile
    assert logs  # (the runner processes' own logs: tests/e2e/test_secrets.py)
    assert_nowhere(SECRET, [*responses, metrics, *logs, out.encode(), err.encode()], db_url)


def spellings(secret: str) -> set[str]:
    import json

    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def assert_nowhere(secret: str, texts: list[bytes], db_url: str) -> None:
    """No spelling of `secret` in `texts` (responses, logs) nor anywhere in the database
    but the ciphertext column: every text, json, jsonb or bytea column of every table
    of the schemas `public` and `pgmq` (queues and their archives)."""
    for spelling in spellings(secret):
        raw = spelling.encode()
        assert not [t for t in texts if raw in t], "a response or a log holds the secret"
    with psycopg.connect(db_url) as conn:
        columns = conn.execute(
            "SELECT table_schema, table_name, column_name, data_type"
            " FROM information_schema.columns c JOIN information_schema.tables t"
            " USING (table_schema, table_name) WHERE t.table_type = 'BASE TABLE'"
            " AND table_schema IN ('public', 'pgmq')"
            " AND data_type IN ('text', 'jsonb', 'json', 'bytea', 'character varying')"
        ).fetchall()
        assert ("public", "function_secrets", "ciphertext", "bytea") in columns
        assert [c for c in columns if c[0] == "pgmq"], "the queue tables are scanned too"
        for schema, table, column, kind in columns:
            if (table, column) == ("function_secrets", "ciphertext"):
                continue
            cast = "convert_from" if kind == "bytea" else None
            expr = f'"{column}"::text' if cast is None else f"encode(\"{column}\", 'escape')"
            for spelling in spellings(secret):
                hits = conn.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE strpos({expr}, %s) > 0',
                    (spelling,),
                ).fetchone()[0]
                assert hits == 0, f"{schema}.{table}.{column} holds the secret"
            if kind == "bytea":
                hits = conn.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}"'
                    f' WHERE position(%s IN "{column}") > 0',
                    (secret.encode(),),
                ).fetchone()[0]
                assert hits == 0, f"{schema}.{table}.{column} holds the secret's bytes"


@pytest.fixture
def invoker_with_key(db, runner_dir):
    from common.runners import make_runners

    settings = InvokerSettings.from_env(
        {"runner_dir": str(runner_dir), "runner_wait_ms": 2000, "secrets_key": KEY}
    )
    runners = make_runners(settings)
    yield Invoker(db, runners, settings)
    runners.close()


def test_a_put_without_secrets_keeps_them_and_a_rotation_makes_no_revision(client, deploy):
    fn = deploy(secrets={"TOKEN": SECRET})
    kept = client.put(f"/functions/{fn['id']}", json=body(fn, description="changed")).json
    assert (kept["secrets"], kept["revision"]) == (["TOKEN"], 1)
    assert execute(client, fn["id"]).json["output"] == {"greeting": "", **fingerprint(SECRET)}

    rotated = client.put(f"/functions/{fn['id']}", json=body(fn, secrets={"TOKEN": ROTATED}))
    assert (rotated.json["secrets"], rotated.json["revision"]) == (["TOKEN"], 1)
    assert execute(client, fn["id"]).json["output"] == {"greeting": "", **fingerprint(ROTATED)}

    cleared = client.put(f"/functions/{fn['id']}", json=body(fn, secrets={})).json
    assert cleared["secrets"] == []
    assert execute(client, fn["id"]).json["output"] == {"greeting": ""}


def test_a_new_env_is_a_ready_revision_at_once_and_rollback_restores_the_old(client, deploy):
    fn = deploy(env={"GREETING": "one"})
    changed = client.put(f"/functions/{fn['id']}", json=body(fn, env={"GREETING": "two"})).json
    assert (changed["revision"], changed["status"], changed["liveRevision"]) == (2, "READY", 2)
    assert changed["env"] == {"GREETING": "two"}
    assert execute(client, fn["id"]).json["output"] == {"greeting": "two"}
    rolled = client.post(f"/functions/{fn['id']}/rollback", json={})
    assert rolled.status_code == 200, rolled.json
    assert execute(client, fn["id"]).json["output"] == {"greeting": "one"}
    assert client.get(f"/functions/{fn['id']}/revisions/2").json["env"] == {"GREETING": "two"}


def test_a_wrong_key_fails_executions_of_functions_with_secrets_only(client, deploy, other_app):
    with_secrets = deploy(secrets={"TOKEN": SECRET})
    without = deploy(name="plain", env={"GREETING": "hi"})
    refused = execute(other_app, with_secrets["id"])
    assert refused.status_code == 503
    assert "cannot decrypt the function's secrets" in refused.json["message"]
    assert "NIL_SECRETS_KEY" in refused.json["message"]
    assert SECRET not in refused.get_data(as_text=True)
    summary = client.get(f"/functions/{with_secrets['id']}/executions").json[0]
    failed = client.get(f"/executions/{summary['id']}").json
    assert failed["status"] == "FAILED" and "NIL_SECRETS_KEY" in failed["errorMessage"]
    assert execute(other_app, without["id"]).json["output"] == {"greeting": "hi"}
    # storing secrets needs a key; a wrong one still seals (it is the key from now on)
    assert execute(client, with_secrets["id"]).status_code == 200


def test_no_key_refuses_to_store_secrets_with_a_clear_503(db_url, runner_dir):
    from gateway import create_app

    app = create_app({"database_url": db_url, "runner_dir": str(runner_dir)})
    try:
        response = app.test_client().post(
            "/functions", json=function_body(secrets={"TOKEN": SECRET})
        )
        assert response.status_code == 503
        assert "NIL_SECRETS_KEY is not set" in response.json["message"]
        assert SECRET not in response.get_data(as_text=True)
    finally:
        app.extensions["nil"].close()


def test_rotating_the_key_reseals_every_value(client, deploy, db, db_url, runner_dir):
    from gateway import create_app

    fn = deploy(secrets={"TOKEN": SECRET, "OTHER": "value-2"})
    new_key = generate_key()
    rotated = create_app(
        {
            "database_url": db_url,
            "runner_dir": str(runner_dir),
            "secrets_key": new_key,
            "secrets_old_keys": (KEY,),
        }
    )
    try:
        ring = rotated.extensions["nil"].keyring
        assert execute(rotated.test_client(), fn["id"]).json["output"] == {
            "greeting": "",
            **fingerprint(SECRET),
        }
        assert Resealer(db, ring).reseal() == 2
        assert Resealer(db, ring).reseal() == 0
        with psycopg.connect(db_url) as conn:
            ids = {r[0] for r in conn.execute("SELECT key_id FROM function_secrets")}
        assert ids == {ring.current_id}
    finally:
        rotated.extensions["nil"].close()
    only_new = Keyring(new_key)
    assert only_new.open_all(fn_id(fn), sealed_of(db_url, fn))["TOKEN"] == SECRET


def test_a_value_copied_to_another_function_or_name_fails_to_open(deploy, db_url):
    first, second = deploy(secrets={"TOKEN": SECRET}), deploy(name="second")
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO function_secrets (function_id, name, key_id, nonce, ciphertext)"
            " SELECT %s, name, key_id, nonce, ciphertext FROM function_secrets"
            " WHERE function_id = %s",
            (second["id"], first["id"]),
        )
    ring = Keyring(KEY)
    with pytest.raises(Exception, match="fails authentication"):
        ring.open_all(fn_id(second), sealed_of(db_url, second))


def fn_id(fn):
    from uuid import UUID

    return UUID(fn["id"])


def sealed_of(db_url, fn):
    from common.secrets import Sealed

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT name, key_id, nonce, ciphertext FROM function_secrets WHERE function_id = %s",
            (fn["id"],),
        ).fetchall()
    return [Sealed(n, k, bytes(nonce), bytes(c)) for n, k, nonce, c in rows]
