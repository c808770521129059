-- Immutable revisions, content-addressed artifacts and aliases (SPEC §9).
--
-- A function keeps what is its own (name, description, isolation, its newest revision
-- number); what it runs moves to `revisions`, one row per revision, never changed once
-- built but for pruning its artifact. Artifacts are stored once per sha256 and shared.
-- `live` and the user's aliases are rows of `aliases`; `latest` is computed.
-- Existing functions become their current revision (its number kept), artifact included.

CREATE TABLE artifacts (
    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    wasm       bytea NOT NULL,
    size       integer NOT NULL CHECK (size = octet_length(wasm)),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE revisions (
    function_id     uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    revision        integer NOT NULL CHECK (revision >= 1),
    language        text NOT NULL,
    source          text NOT NULL CHECK (source <> ''),
    timeout_ms      integer NOT NULL CHECK (timeout_ms > 0),
    memory_mb       integer NOT NULL CHECK (memory_mb > 0),
    fuel            bigint NOT NULL CHECK (fuel > 0),
    env             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(env) = 'object'),
    status          function_status NOT NULL DEFAULT 'PENDING',
    compile_error   text,
    artifact_sha256 text REFERENCES artifacts (sha256),
    wasm_size       integer,
    wasm_sha256     text,
    pruned_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    built_at        timestamptz,
    PRIMARY KEY (function_id, revision),
    CONSTRAINT revisions_ready_has_artifact CHECK (
        status <> 'READY'
        OR (wasm_sha256 IS NOT NULL AND (artifact_sha256 IS NOT NULL OR pruned_at IS NOT NULL))
    ),
    CONSTRAINT revisions_failed_has_error CHECK (status <> 'FAILED' OR compile_error IS NOT NULL),
    CONSTRAINT revisions_artifact_is_its_own CHECK (
        artifact_sha256 IS NULL OR artifact_sha256 = wasm_sha256
    ),
    CONSTRAINT revisions_pruned_has_no_artifact CHECK (
        pruned_at IS NULL OR artifact_sha256 IS NULL
    )
);

-- `latest`, rollback's "the READY revision before live" and pruning read READY rows.
CREATE INDEX revisions_ready_idx ON revisions (function_id, revision DESC) WHERE status = 'READY';
-- Deleting an unreferenced artifact checks for revisions still pointing at it.
CREATE INDEX revisions_artifact_idx ON revisions (artifact_sha256) WHERE artifact_sha256 IS NOT NULL;

-- An alias names one revision or splits traffic by weight ({"3": 90, "4": 10}).
-- `live` always exists: unpinned, it follows the newest READY revision (NULL until one
-- is READY); pinned (set or rolled back), it stays where it was put.
CREATE TABLE aliases (
    function_id uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$' AND name <> 'latest'),
    revision    integer,
    routes      jsonb CHECK (routes IS NULL OR jsonb_typeof(routes) = 'object'),
    pinned      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (function_id, name),
    FOREIGN KEY (function_id, revision) REFERENCES revisions (function_id, revision)
        ON DELETE CASCADE,
    CONSTRAINT aliases_one_target CHECK (
        (revision IS NULL) <> (routes IS NULL) OR (name = 'live' AND NOT pinned AND routes IS NULL)
    ),
    CONSTRAINT aliases_only_live_unpinned CHECK (pinned OR name = 'live'),
    CONSTRAINT aliases_live_has_one_revision CHECK (name <> 'live' OR routes IS NULL)
);

INSERT INTO artifacts (sha256, wasm, size, created_at)
SELECT DISTINCT ON (wasm_sha256) wasm_sha256, wasm_binary, octet_length(wasm_binary), updated_at
FROM functions
WHERE wasm_binary IS NOT NULL AND wasm_sha256 IS NOT NULL
ORDER BY wasm_sha256, updated_at;

INSERT INTO revisions (function_id, revision, language, source, timeout_ms, memory_mb, fuel,
                       status, compile_error, artifact_sha256, wasm_size, wasm_sha256,
                       created_at, built_at)
SELECT id, revision, language, source, timeout_ms, memory_mb, fuel,
       status, compile_error,
       CASE WHEN wasm_binary IS NOT NULL THEN wasm_sha256 END, wasm_size, wasm_sha256,
       updated_at, CASE WHEN status IN ('READY', 'FAILED') THEN updated_at END
FROM functions;

INSERT INTO aliases (function_id, name, revision, pinned, updated_at)
SELECT id, 'live', CASE WHEN status = 'READY' THEN revision END, false, updated_at
FROM functions;

ALTER TABLE functions
    DROP CONSTRAINT functions_ready_has_artifact,
    DROP CONSTRAINT functions_failed_has_error,
    DROP COLUMN language,
    DROP COLUMN source,
    DROP COLUMN status,
    DROP COLUMN compile_error,
    DROP COLUMN timeout_ms,
    DROP COLUMN memory_mb,
    DROP COLUMN fuel,
    DROP COLUMN wasm_binary,
    DROP COLUMN wasm_size,
    DROP COLUMN wasm_sha256;

-- The revision that ran. NULL only for executions recorded before revisions existed
-- (which revision they ran was never stored); adding the column rewrites nothing.
ALTER TABLE executions ADD COLUMN revision integer CHECK (revision >= 1);

-- A function as the API shows it: its own fields, its newest revision's build and
-- settings, and the revision `live` points at.
CREATE VIEW function_heads AS
SELECT f.id, f.name, f.description, f.isolation, f.revision, f.created_at, f.updated_at,
       r.language, r.source, r.status, r.compile_error, r.timeout_ms, r.memory_mb, r.fuel,
       r.env, r.wasm_size, r.wasm_sha256, live.revision AS live_revision
FROM functions f
JOIN revisions r ON r.function_id = f.id AND r.revision = f.revision
LEFT JOIN aliases live ON live.function_id = f.id AND live.name = 'live';
