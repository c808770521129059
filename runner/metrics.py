"""The runner's Prometheus metrics (served on its metrics listener, runner/metrics_http.py);
labels are outcomes, languages and reasons only. The keeper counts worker restarts before
it forks the next worker, which inherits the count."""

from prometheus_client import Counter, Gauge, Histogram

from common.contracts import LANGUAGES, Outcome

EXECUTIONS = Counter("nil_runner_executions_total", "Executions run", ["language", "outcome"])
INSTANTIATE_SECONDS = Histogram(
    "nil_runner_instantiate_duration_seconds",
    "Time to instantiate a module or component in a fresh store",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1),
)
PREPARED_INSTANCES = Counter(
    "nil_runner_prepared_instances_total",
    "Component instances made ahead of a call while the runner was idle",
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
BUSY = Gauge("nil_runner_busy", "1 while a call (or a module load) holds the runner")
DRAINING = Gauge("nil_runner_draining", "1 once the runner drains: it admits no new call")
REFUSED = Counter(
    "nil_runner_refused_total",
    "Execute or load requests answered without running: busy, or draining",
    ["reason"],
)
for _reason in ("busy", "draining"):
    REFUSED.labels(_reason)
WORKER_RESTARTS = Counter(
    "nil_runner_worker_restarts_total",
    "Worker processes replaced by the runner's keeper, by why the last one ended",
    ["reason"],
)
for _reason in ("watchdog", "crashed", "killed", "hung"):
    WORKER_RESTARTS.labels(_reason)
for _language in LANGUAGES:  # every outcome the runner reports, exported from the start
    for _outcome in Outcome:
        if _outcome != Outcome.PLATFORM_ERROR:
            EXECUTIONS.labels(_language, _outcome.value)
