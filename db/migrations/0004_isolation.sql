-- Where a function's executions run: the shared pool, or runners reserved for it.
ALTER TABLE functions
    ADD COLUMN isolation text NOT NULL DEFAULT 'shared'
    CHECK (isolation IN ('shared', 'dedicated'));
