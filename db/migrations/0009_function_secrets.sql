-- Per-function secrets (SPEC §12): write-only values, encrypted at rest with AES-GCM
-- under NIL_SECRETS_KEY (common/secrets.py). Each value has its own nonce; the function
-- id and the name are its associated data, so a ciphertext copied to another function
-- or name fails to decrypt. `key_id` names the key that sealed it, so a rotation can
-- decrypt with an old key while re-encrypting under the new one. Secrets belong to the
-- function, not to a revision: a change applies to every revision at once.

CREATE TABLE function_secrets (
    function_id uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    key_id      text NOT NULL CHECK (key_id ~ '^[0-9a-f]{16}$'),
    nonce       bytea NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext  bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (function_id, name)
);
