"""Resealing secrets after a key rotation (SPEC §12, README "Rotating the secrets key").

With the new key in NIL_SECRETS_KEY and the old one in NIL_SECRETS_OLD_KEYS, every
service opens values sealed by either; this housekeeping task re-encrypts each value
still under an old key with the current one (a fresh nonce, the same associated data),
a few hundred per turn, each update conditional on the row being unchanged. When it
has nothing left (no `secrets.resealed` log line; `SELECT count(*) FROM function_secrets
WHERE key_id <> '<new key id>'` is 0), the old key can be removed. `python -m
consumer.reseal` runs it once, to the end. Values no key of the ring opens are left
alone (and counted), never dropped.
"""

from __future__ import annotations

import logging

import psycopg_pool

from common.db import transaction
from common.secrets import Keyring, SecretsKeyError
from db import secrets as repo

logger = logging.getLogger(__name__)


class Resealer:
    def __init__(self, db: psycopg_pool.ConnectionPool, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    def reseal(self) -> int:
        """Reseal one batch under the current key; returns how many values it resealed."""
        current = self.keyring.current_id
        if current is None:
            return 0
        with transaction(self.db) as conn:
            stale = repo.sealed_under_other_keys(conn, current)
        resealed = unopenable = 0
        for function_id, old in stale:
            try:
                value = self.keyring.open(function_id, old)
            except SecretsKeyError:
                unopenable += 1
                continue
            new = self.keyring.seal(function_id, old.name, value)
            with transaction(self.db) as conn:
                resealed += repo.reseal(conn, function_id, old, new)
        if resealed or unopenable:
            logger.info(
                "secrets.resealed",
                extra={"resealed": resealed, "unopenable": unopenable, "keyId": current},
            )
        return resealed


def main() -> None:
    from common.db import open_pool
    from common.logging import configure_logging
    from consumer.settings import Settings

    settings = Settings.from_env()
    configure_logging("reseal", settings.log_level)
    db = open_pool(settings.database_url, min_size=1, max_size=2, name="reseal")
    resealer = Resealer(db, Keyring.from_settings(settings))
    try:
        while resealer.reseal():
            pass
    finally:
        db.close()


if __name__ == "__main__":
    main()
