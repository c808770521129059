-- What a function printed (stdout, stderr, console) during one execution, capped by the runner.
ALTER TABLE executions ADD COLUMN logs text;
