"""The builder's Prometheus metrics; labels are languages and outcomes only."""

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter("nil_builder_jobs_total", "Compilation jobs handled", ["language", "outcome"])
COMPILE_SECONDS = Histogram(
    "nil_builder_compile_duration_seconds",
    "Time to compile one job",
    ["language"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
DEAD_LETTERED = Counter("nil_builder_dead_lettered_total", "Jobs archived after too many reads")
IN_FLIGHT = Gauge("nil_builder_jobs_in_flight", "Jobs being compiled now")
