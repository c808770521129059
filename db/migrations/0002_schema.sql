-- Functions and their executions (SPEC §2).
CREATE TYPE function_status AS ENUM ('PENDING', 'COMPILING', 'READY', 'FAILED');
CREATE TYPE execution_status AS ENUM ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');

CREATE TABLE functions (
    id            uuid PRIMARY KEY,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    description   text,
    language      text NOT NULL,
    source        text NOT NULL CHECK (source <> ''),
    status        function_status NOT NULL DEFAULT 'PENDING',
    compile_error text,
    revision      integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    timeout_ms    integer NOT NULL CHECK (timeout_ms > 0),
    memory_mb     integer NOT NULL CHECK (memory_mb > 0),
    fuel          bigint NOT NULL CHECK (fuel > 0),
    wasm_binary   bytea,
    wasm_size     integer,
    wasm_sha256   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT functions_ready_has_artifact
        CHECK (status <> 'READY' OR (wasm_binary IS NOT NULL AND wasm_sha256 IS NOT NULL)),
    CONSTRAINT functions_failed_has_error
        CHECK (status <> 'FAILED' OR compile_error IS NOT NULL)
);

CREATE INDEX functions_created_idx ON functions (created_at DESC, id DESC);

CREATE TABLE executions (
    id            uuid PRIMARY KEY,
    function_id   uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    status        execution_status NOT NULL,
    input         jsonb NOT NULL,
    output        jsonb,
    error_message text,
    duration_ms   double precision,
    fuel_used     bigint,
    started_at    timestamptz,
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT executions_completed_has_no_error
        CHECK (status <> 'COMPLETED' OR error_message IS NULL),
    CONSTRAINT executions_failed_has_error
        CHECK (status <> 'FAILED' OR error_message IS NOT NULL)
);

CREATE INDEX executions_function_created_idx ON executions (function_id, created_at DESC, id DESC);
CREATE INDEX executions_running_idx ON executions (started_at) WHERE status = 'RUNNING';
