-- Asynchronous invocations (SPEC §10): retry settings per function; per execution how
-- it was started (trigger), the revision choice as requested (kept for retries), its
-- attempts, whether it was dead-lettered, and its idempotency key. Every column added
-- here has a constant default, so adding it rewrites no table.

ALTER TABLE functions
    ADD COLUMN retry_max_attempts integer NOT NULL DEFAULT 3
        CHECK (retry_max_attempts BETWEEN 1 AND 10),
    ADD COLUMN retry_backoff_ms integer NOT NULL DEFAULT 1000
        CHECK (retry_backoff_ms BETWEEN 0 AND 3600000);

ALTER TABLE executions
    ADD COLUMN trigger text NOT NULL DEFAULT 'http'
        CHECK (trigger IN ('http', 'async', 'schedule', 'route', 'sql')),
    ADD COLUMN attempts integer NOT NULL DEFAULT 1 CHECK (attempts >= 0),
    ADD COLUMN dead_lettered boolean NOT NULL DEFAULT false,
    ADD COLUMN choice jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(choice) = 'object'),
    ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    ADD COLUMN idempotency_fingerprint text,
    ADD CONSTRAINT executions_dead_letter_failed CHECK (NOT dead_lettered OR status = 'FAILED');

-- One execution per (function, key): holds across gateway processes and replicas. Keys
-- expire after 24 h: the retention job (and a conflicting insert) clear old keys.
CREATE UNIQUE INDEX executions_idempotency_idx ON executions (function_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Retention releases keys older than 24 h.
CREATE INDEX executions_idempotency_created_idx ON executions (created_at)
    WHERE idempotency_key IS NOT NULL;
-- Dead letters of a function, listed newest first.
CREATE INDEX executions_dead_lettered_idx ON executions (function_id, created_at DESC, id DESC)
    WHERE dead_lettered;
-- Retention deletes the oldest executions in batches.
CREATE INDEX executions_created_idx ON executions (created_at);

-- The view the API reads functions through gains the retry settings (appended columns).
CREATE OR REPLACE VIEW function_heads AS
SELECT f.id, f.name, f.description, f.isolation, f.revision, f.created_at, f.updated_at,
       r.language, r.source, r.status, r.compile_error, r.timeout_ms, r.memory_mb, r.fuel,
       r.env, r.wasm_size, r.wasm_sha256, live.revision AS live_revision,
       f.retry_max_attempts, f.retry_backoff_ms
FROM functions f
JOIN revisions r ON r.function_id = f.id AND r.revision = f.revision
LEFT JOIN aliases live ON live.function_id = f.id AND live.name = 'live';

SELECT pgmq.create('executions');

-- Ending an execution notifies the long-polling gateways (GET /executions/{id}?wait=).
CREATE FUNCTION nil_notify_execution_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('COMPLETED', 'FAILED') AND OLD.status IS DISTINCT FROM NEW.status THEN
        PERFORM pg_notify('nil_execution_finished', NEW.id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER executions_finished_notify AFTER UPDATE OF status ON executions
    FOR EACH ROW EXECUTE FUNCTION nil_notify_execution_finished();

-- nil.invoke(function_id, input): start an asynchronous execution of the function's
-- `live` revision from SQL, inside the caller's transaction (a rollback takes the
-- execution and its message with it). Returns the execution's id.
CREATE SCHEMA IF NOT EXISTS nil;

CREATE FUNCTION nil.invoke(function_id uuid, input jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    execution_id uuid := gen_random_uuid();
    live_revision integer;
    runnable boolean;
BEGIN
    IF input IS NULL OR jsonb_typeof(input) <> 'object' THEN
        RAISE EXCEPTION 'nil.invoke: input must be a JSON object, got %',
            coalesce(jsonb_typeof(input), 'NULL') USING ERRCODE = '22023';
    END IF;
    SELECT a.revision, r.status = 'READY' AND r.artifact_sha256 IS NOT NULL
    INTO live_revision, runnable
    FROM functions f
    LEFT JOIN aliases a ON a.function_id = f.id AND a.name = 'live'
    LEFT JOIN revisions r ON r.function_id = f.id AND r.revision = a.revision
    WHERE f.id = invoke.function_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'nil.invoke: function % not found', function_id USING ERRCODE = 'P0002';
    END IF;
    IF live_revision IS NULL OR NOT coalesce(runnable, false) THEN
        RAISE EXCEPTION 'nil.invoke: function % has no READY live revision', function_id
            USING ERRCODE = '55000';
    END IF;
    INSERT INTO executions (id, function_id, revision, status, input, trigger, attempts)
    VALUES (execution_id, invoke.function_id, live_revision, 'PENDING', input, 'sql', 0);
    PERFORM pgmq.send('executions', jsonb_build_object(
        'executionId', execution_id, 'functionId', invoke.function_id,
        'revision', live_revision));
    RETURN execution_id;
END $$;
