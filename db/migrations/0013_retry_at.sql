-- When an asynchronous execution's retry may start: its backoff is kept on the row, not
-- only in its message's visibility, so a second message for the execution (one sent
-- by hand on the queue) cannot start the retry before it (db/executions.py, the claim).
ALTER TABLE executions ADD COLUMN retry_at timestamptz;
