"""The gateway's settings: the API's limits and keys, gunicorn's shape, the runner client."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import RunnerClientSettings, env

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings(RunnerClientSettings):
    host: str = env("NIL_HOST", "127.0.0.1")
    port: int = env("PORT", 8080)
    workers: int = env("NIL_GATEWAY_WORKERS", 2)  # gunicorn processes
    threads: int = env("NIL_GATEWAY_THREADS", 8)  # threads running the app, per process
    # Open client connections per process (each a greenlet: gateway/worker.py)
    connections: int = env("NIL_GATEWAY_CONNECTIONS", 1000)
    # Read deadlines: a request's headers from its first byte, then its body
    request_header_timeout_seconds: float = env("NIL_REQUEST_HEADER_TIMEOUT_SECONDS", 10.0)
    request_body_timeout_seconds: float = env("NIL_REQUEST_BODY_TIMEOUT_SECONDS", 60.0)
    # Write deadline: a client that takes no byte of its response for this long is reset
    response_write_timeout_seconds: float = env("NIL_RESPONSE_WRITE_TIMEOUT_SECONDS", 30.0)
    # Bytes of responses one worker process holds for clients reading slower than it writes
    slow_response_bytes: int = env("NIL_SLOW_RESPONSE_BYTES", 64 * MIB)
    # With a launcher backend (local, docker), the gunicorn master starts the runner
    # supervisor; off when the supervisor runs as a process of its own.
    supervise_runners: bool = env("NIL_SUPERVISE_RUNNERS", True)
    # After SIGTERM, requests in flight get this long to finish (gunicorn's graceful
    # timeout); the chart derives it from NIL_MAX_TIMEOUT_MS plus a margin.
    graceful_seconds: int = env("NIL_GATEWAY_GRACEFUL_SECONDS", 75)
    db_pool_min: int = env("NIL_DB_POOL_MIN", 1)
    db_pool_max: int = env("NIL_DB_POOL_MAX", 10)
    max_body_bytes: int = env("NIL_MAX_BODY_BYTES", 6 * MIB)
    max_source_bytes: int = env("NIL_MAX_SOURCE_BYTES", 1 * MIB)
    max_input_bytes: int = env("NIL_MAX_INPUT_BYTES", 1 * MIB)
    default_timeout_ms: int = env("NIL_DEFAULT_TIMEOUT_MS", 10_000)
    max_timeout_ms: int = env("NIL_MAX_TIMEOUT_MS", 60_000)
    default_memory_mb: int = env("NIL_DEFAULT_MEMORY_MB", 64)
    max_memory_mb: int = env("NIL_MAX_MEMORY_MB", 512)
    default_fuel: int = env("NIL_DEFAULT_FUEL", 2_000_000_000)
    max_fuel: int = env("NIL_MAX_FUEL", 200_000_000_000)
    api_keys: tuple[str, ...] = env("NIL_API_KEYS", ())
    rate_limit_per_second: float = env("NIL_RATE_LIMIT_PER_SECOND", 50.0)
    rate_limit_burst: int = env("NIL_RATE_LIMIT_BURST", 100)
    # Failed authentications per client address (a 401 spends a token; 0: no limit)
    auth_failure_limit_per_second: float = env("NIL_AUTH_FAILURE_LIMIT_PER_SECOND", 0.5)
    auth_failure_limit_burst: int = env("NIL_AUTH_FAILURE_LIMIT_BURST", 20)
    # Proxies in front whose X-Forwarded-For is trusted for the client's address
    proxy_hops: int = env("NIL_PROXY_HOPS", 0)
