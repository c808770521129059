-- nil.invoke refuses an input the HTTP API refuses (common/jsonvalues.py): arrays or
-- objects nested deeper than 100 levels, and numbers a double cannot hold (jsonb keeps
-- 1e5000 exactly; the platform's JSON readers cannot: such an input made its execution
-- unreadable by GET /executions/{id} and unrunnable by the invoker).
CREATE FUNCTION nil.input_problem(input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    WITH RECURSIVE walk(value, depth) AS (
        SELECT input, 1
        UNION ALL
        SELECT child, w.depth + 1
        FROM walk w
        CROSS JOIN LATERAL (
            SELECT value FROM jsonb_each(
                CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value ELSE '{}' END)
            UNION ALL
            SELECT value FROM jsonb_array_elements(
                CASE WHEN jsonb_typeof(w.value) = 'array' THEN w.value ELSE '[]' END)
        ) AS children(child)
        WHERE w.depth <= 100
    )
    SELECT CASE
        WHEN bool_or(depth > 100 AND jsonb_typeof(value) IN ('object', 'array'))
            THEN 'is nested deeper than 100 levels'
        WHEN bool_or(jsonb_typeof(value) = 'number'
                     AND abs(value::numeric) > 1.7976931348623157e308)
            THEN 'contains a number too large for a double'
    END
    FROM walk
$$;

CREATE OR REPLACE FUNCTION nil.invoke(function_id uuid, input jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    execution_id uuid := gen_random_uuid();
    live_revision integer;
    runnable boolean;
    problem text;
BEGIN
    IF input IS NULL OR jsonb_typeof(input) <> 'object' THEN
        RAISE EXCEPTION 'nil.invoke: input must be a JSON object, got %',
            coalesce(jsonb_typeof(input), 'NULL') USING ERRCODE = '22023';
    END IF;
    problem := nil.input_problem(input);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'nil.invoke: input %', problem USING ERRCODE = '22023';
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
