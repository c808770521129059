"""Every statement on function secrets (SPEC §12). Values arrive sealed
(common/secrets.py) and leave sealed: nothing here sees a plaintext. The execution path
reads a function's sealed secrets inside the statement that starts it (db/targets.py),
so a function without secrets costs no extra round trip.
"""

from __future__ import annotations

from uuid import UUID

import psycopg

from common.secrets import Sealed


def replace_secrets(conn: psycopg.Connection, function_id: UUID, sealed: list[Sealed]) -> None:
    """The function's secrets become exactly `sealed` (a PUT with `secrets`)."""
    conn.execute("DELETE FROM function_secrets WHERE function_id = %s", (function_id,))
    if sealed:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO function_secrets (function_id, name, key_id, nonce, ciphertext)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(function_id, s.name, s.key_id, s.nonce, s.ciphertext) for s in sealed],
            )


def secret_names(conn: psycopg.Connection, function_id: UUID) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM function_secrets WHERE function_id = %s ORDER BY name", (function_id,)
    ).fetchall()
    return [r[0] for r in rows]


def sealed_from_json(data: list[dict] | None) -> list[Sealed]:
    """From the `secrets` column of db/targets.py's CTE (a jsonb array, or NULL)."""
    return [
        Sealed(d["name"], d["keyId"], bytes.fromhex(d["nonce"]), bytes.fromhex(d["ciphertext"]))
        for d in data or ()
    ]


# The sealed secrets of the target's function, as the target CTE selects them: NULL when
# it has none (one primary-key index probe; no decryption, no round trip of its own).
SEALED_SECRETS_SQL = (
    "(SELECT jsonb_agg(jsonb_build_object('name', s.name, 'keyId', s.key_id,"
    " 'nonce', encode(s.nonce, 'hex'), 'ciphertext', encode(s.ciphertext, 'hex')))"
    " FROM function_secrets s WHERE s.function_id = f.id)"
)


def sealed_under_other_keys(
    conn: psycopg.Connection, current_key_id: str, limit: int = 500
) -> list[tuple[UUID, Sealed]]:
    """Secrets sealed by a key other than the current one (to reseal after a rotation)."""
    rows = conn.execute(
        "SELECT function_id, name, key_id, nonce, ciphertext FROM function_secrets"
        " WHERE key_id <> %s ORDER BY function_id, name LIMIT %s",
        (current_key_id, limit),
    ).fetchall()
    return [(fid, Sealed(name, kid, bytes(n), bytes(c))) for fid, name, kid, n, c in rows]


def reseal(conn: psycopg.Connection, function_id: UUID, old: Sealed, new: Sealed) -> bool:
    """Replace one value sealed under an old key, unless it changed meanwhile."""
    cur = conn.execute(
        "UPDATE function_secrets SET key_id = %s, nonce = %s, ciphertext = %s"
        " WHERE function_id = %s AND name = %s AND key_id = %s AND nonce = %s",
        (new.key_id, new.nonce, new.ciphertext, function_id, old.name, old.key_id, old.nonce),
    )
    return cur.rowcount == 1
