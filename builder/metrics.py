"""The builder's Prometheus metrics; labels are languages and outcomes only."""

from prometheus_client import Counter, Gauge, Histogram

from common.contracts import LANGUAGES

JOBS = Counter("nil_builder_jobs_total", "Compilation jobs handled", ["language", "outcome"])
COMPILE_SECONDS = Histogram(
    "nil_builder_compile_duration_seconds",
    "Time to compile one job",
    ["language"],
    # WAT compiles take a few milliseconds; Python components tens of seconds
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
DEAD_LETTERED = Counter("nil_builder_dead_lettered_total", "Jobs archived after too many reads")
IN_FLIGHT = Gauge("nil_builder_jobs_in_flight", "Jobs being compiled now")

# Every known label value exported from the start, at 0: a first burst shows in rate().
JOB_OUTCOMES = (
    "success",
    "compile_error",
    "abi_error",
    "invalid_wasm",
    "timeout",
    "compiler_crash",
    "platform_fault",
)
for _language in LANGUAGES:
    COMPILE_SECONDS.labels(_language)
    for _outcome in JOB_OUTCOMES:
        JOBS.labels(_language, _outcome)
