-- Limits that hold across every gateway process and replica (issue 20).
-- Token buckets of the per-key rate limit: one row per limit and key, refilled and spent
-- in one statement (db/ratelimits.py). Unlogged: no WAL per request; a crash empties the
-- buckets, which only forgives what was spent.
CREATE UNLOGGED TABLE rate_buckets (
    name text NOT NULL,
    key text NOT NULL,
    tokens double precision NOT NULL,
    taken boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (name, key)
);

-- At most this many executions of the function RUNNING at once (NULL: unlimited), counted
-- by the statement that starts an execution under a per-function advisory lock
-- (db/executions.py), so it holds across every gateway and invocation worker.
ALTER TABLE functions ADD COLUMN concurrency integer CHECK (concurrency > 0);
