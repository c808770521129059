-- An unfinished execution deleted with its function (DELETE /functions/{id} cascades to
-- its executions) wakes its waiters like one that ends: a long-poll on it reads again at
-- once and answers 404, instead of holding on to its deadline. Only unfinished rows
-- notify: nobody waits on a finished one (retention deletes those).
CREATE FUNCTION nil_notify_execution_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nil_execution_finished', OLD.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER executions_deleted_notify AFTER DELETE ON executions
    FOR EACH ROW WHEN (OLD.status IN ('PENDING', 'RUNNING'))
    EXECUTE FUNCTION nil_notify_execution_deleted();
