"""Every metric the scheduler exports (on its health server's /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

FIRES = Counter(
    "nil_scheduler_fires_total",
    "Schedule ticks claimed, by result (enqueued; not_ready: nothing READY to run)",
    ["result"],
)
LOST_CLAIMS = Counter(
    "nil_scheduler_claims_lost_total", "Due ticks another scheduler process claimed first"
)
SKIPPED = Counter(
    "nil_scheduler_skipped_ticks_total",
    "Ticks missed while no scheduler ran, not replayed (only the most recent one fires)",
)
LAG_SECONDS = Histogram(
    "nil_scheduler_lag_seconds",
    "Time from a tick being due to its execution being enqueued",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
LAST_LOOK = Gauge("nil_scheduler_last_look_timestamp_seconds", "When it last looked for ticks")

for _result in ("enqueued", "not_ready"):  # exported from the start, at 0
    FIRES.labels(_result)
