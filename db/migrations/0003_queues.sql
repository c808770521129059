-- The compilation queues (SPEC §4). pgmq.create is idempotent.
SELECT pgmq.create('compilation_jobs');
SELECT pgmq.create('compilation_results');
