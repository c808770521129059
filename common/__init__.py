"""Code shared by the services: contracts (the runner's wire contract too), the settings
base, logging, the database pool, pgmq calls, metrics exposition, the runner client
(runners/) and the execution path. It imports no service."""
