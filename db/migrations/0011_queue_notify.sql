-- A message sent to the queue `executions` (by the gateway, a schedule, a retry or
-- nil.invoke) notifies the idle invocation workers when its transaction commits, so
-- they wait on LISTEN instead of polling the queue (common/notifications.py,
-- QueueWatch). One notification per sending statement; PostgreSQL folds identical
-- notifications of one transaction into one.
CREATE FUNCTION nil_notify_execution_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nil_executions_queued', '');
    RETURN NULL;
END $$;

CREATE TRIGGER executions_queued_notify AFTER INSERT ON pgmq.q_executions
    FOR EACH STATEMENT EXECUTE FUNCTION nil_notify_execution_queued();
