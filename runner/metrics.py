"""The runner's Prometheus metrics; labels are outcomes and languages only."""

from prometheus_client import Counter, Gauge, Histogram

EXECUTIONS = Counter("nil_runner_executions_total", "Executions run", ["language", "outcome"])
INSTANTIATE_SECONDS = Histogram(
    "nil_runner_instantiate_duration_seconds",
    "Time to instantiate a module or component in a fresh store",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1),
)
CACHE_HITS = Counter("nil_runner_module_cache_hits_total", "Module cache hits")
CACHE_MISSES = Counter("nil_runner_module_cache_misses_total", "Module cache misses")
CACHE_EVICTIONS = Counter("nil_runner_module_cache_evictions_total", "Modules evicted")
CACHE_BYTES = Gauge("nil_runner_module_cache_bytes", "Bytes of wasm held in the cache")
CACHE_ENTRIES = Gauge("nil_runner_module_cache_entries", "Modules held in the cache")
LOAD_SECONDS = Histogram(
    "nil_runner_artifact_load_duration_seconds",
    "Time to make an artifact runnable: compile it, or read what a runner compiled before",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30),
)
