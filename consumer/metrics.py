"""Every metric the consumer exports (on its health server's /metrics)."""

from prometheus_client import Counter, Histogram

from common.contracts import LANGUAGES

RESULTS = Counter(
    "nil_consumer_results_total", "Compilation results handled, by outcome", ["outcome"]
)
LAG_SECONDS = Histogram(
    "nil_consumer_lag_seconds",
    "Time from a result being published to it being applied",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
WARM_SECONDS = Histogram(
    "nil_consumer_warm_duration_seconds",
    "Time a runner took to compile a new artifact before its function became READY",
    ["language"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 20, 40),
)
SWEPT = Counter("nil_executions_swept_total", "Executions failed by the sweeper (lost)")
PRUNED = Counter(
    "nil_revisions_pruned_total", "Revisions whose artifact was pruned (no alias, 10 newer READY)"
)
ARTIFACTS_DELETED = Counter(
    "nil_artifacts_deleted_total", "Artifacts deleted once no revision pointed at them"
)
RETENTION_DELETED = Counter(
    "nil_retention_deleted_total",
    "Rows deleted by retention: old executions, old archived queue messages",
    ["kind"],
)

# Every known label value exported from the start, at 0: a first burst shows in rate().
for _outcome in ("applied", "stale", "missing", "malformed", "dead_lettered"):
    RESULTS.labels(_outcome)
for _kind in ("executions", "archived_messages"):
    RETENTION_DELETED.labels(_kind)
for _language in LANGUAGES:
    WARM_SECONDS.labels(_language)
