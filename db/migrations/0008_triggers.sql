-- Triggers (SPEC §11): HTTP routes on functions, and cron schedules.
--
-- A function may answer at /fn/{route}: `route` is unique across functions (NULL for
-- none) and `public` lets the route be called without an API key. Both default so that
-- adding them rewrites no table.
ALTER TABLE functions
    ADD COLUMN route text CHECK (
        route ~ '^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$' AND length(route) <= 255),
    ADD COLUMN public boolean NOT NULL DEFAULT false;

-- The route lookup of every /fn/ request (one index probe in the start statement).
CREATE UNIQUE INDEX functions_route_idx ON functions (route) WHERE route IS NOT NULL;

-- A schedule fires its function asynchronously at every tick of `cron` in `timezone`.
-- `next_run_at` is the next tick due: a scheduler claims a tick by moving it forward
-- with a conditional update (WHERE next_run_at = the tick it read) in the same
-- transaction that inserts the execution and sends its message — so each tick starts
-- exactly one execution however many schedulers race, and a rollback loses neither.
CREATE TABLE schedules (
    id          uuid PRIMARY KEY,
    function_id uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    cron        text NOT NULL CHECK (cron <> ''),
    timezone    text NOT NULL DEFAULT 'UTC',
    input       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(input) = 'object'),
    next_run_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The scheduler's poll: the schedules due, soonest first.
CREATE INDEX schedules_due_idx ON schedules (next_run_at);
-- A function's schedules, listed oldest first (and the cascade on delete).
CREATE INDEX schedules_function_idx ON schedules (function_id, created_at, id);

-- The view the API reads functions through gains the route (appended columns).
CREATE OR REPLACE VIEW function_heads AS
SELECT f.id, f.name, f.description, f.isolation, f.revision, f.created_at, f.updated_at,
       r.language, r.source, r.status, r.compile_error, r.timeout_ms, r.memory_mb, r.fuel,
       r.env, r.wasm_size, r.wasm_sha256, live.revision AS live_revision,
       f.retry_max_attempts, f.retry_backoff_ms, f.route, f.public
FROM functions f
JOIN revisions r ON r.function_id = f.id AND r.revision = f.revision
LEFT JOIN aliases live ON live.function_id = f.id AND live.name = 'live';
